import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.js";

// The chaos suite starts servers and whole fleets of processes and kills
// them: one file at a time, so faults in one file never land in another.
// Each file bounds its own work; the suite as a whole stays under ~10 minutes.
export default mergeConfig(
  shared,
  defineConfig({
    root: import.meta.dirname,
    test: {
      include: ["**/*.test.ts"],
      fileParallelism: false,
      testTimeout: 240_000,
      hookTimeout: 120_000,
    },
  }),
);

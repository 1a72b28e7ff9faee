import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../vitest.shared.js";

// The suites start whole fleets of processes: one file at a time, so they do
// not compete for the machine's cores, with room for slow CI machines.
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      include: ["e2e/**/*.test.ts"],
      fileParallelism: false,
      testTimeout: 240_000,
      hookTimeout: 120_000,
    },
  }),
);

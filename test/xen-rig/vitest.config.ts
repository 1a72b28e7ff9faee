import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The rig's tests run inside the dom0 that test/xen-rig/run.sh boots, against
// the checkout shared read-only over 9p: workspace packages resolve to their
// TypeScript sources (as in every package's tests) and nothing is written
// into the tree. Guests boot under emulation, so the per-test bounds are
// generous; they bound a hang, they do not measure speed.
const conditions = ["source", "node", "import", "default"];

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  cacheDir: "/tmp/xen-rig-vite",
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 900_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    // A failed match on a domain's info prints it whole: the rig is slow to rerun.
    chaiConfig: { truncateThreshold: 0 },
    maxWorkers: 1,
  },
});

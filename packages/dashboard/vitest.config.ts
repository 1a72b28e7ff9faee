import { defineConfig } from "vitest/config";

// As vitest.shared.ts, but "require" in place of "import": bull-board's
// express router require()s is-promise, whose "import" build has only a
// default export, and with "import" among the conditions Node's require(esm)
// handed the router that namespace instead of the function.
const conditions = ["source", "node", "require", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: { include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 },
});

import { defineConfig } from "vitest/config";

// Tests import sibling workspace packages from their TypeScript sources (the
// "source" export condition), so a package's tests never run against a stale build.
export default defineConfig({
  resolve: { conditions: ["source", "module", "node", "import", "default"] },
  ssr: { resolve: { conditions: ["source", "module", "node", "import", "default"] } },
  test: { include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 },
});

import { defineConfig } from "vitest/config";

// Tests import sibling workspace packages from their TypeScript sources (the
// "source" export condition), so a package's tests never run against a stale
// build. Everything else resolves as Node does: no "module" condition, which
// would pick bundler-only builds (such as the AWS SDK's dist-es) that Node's
// ESM loader rejects.
const conditions = ["source", "node", "import", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: { include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 },
});

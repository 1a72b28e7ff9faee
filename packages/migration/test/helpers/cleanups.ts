import { afterEach } from "vitest";

/**
 * Cleanups a test registers as it builds things, run after each test in the
 * reverse order (the newest first).
 */
export function cleanupsAfterEach(): Array<() => Promise<void>> {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}

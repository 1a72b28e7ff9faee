import { addon } from "./addon.js";
import { callNativeAsync } from "./errors.js";
import { toOffsets, type PageOffsets } from "./pages.js";

/** Flags written by classifyPagesAsync, one per page. */
export const PAGE_OTHER = 0;
export const PAGE_ZERO = 1;
export const PAGE_SAME = 2;

/**
 * Hashes a batch of pages (as hashPagesAsync) on a libuv worker thread and
 * classifies each: digest i goes to digests[32 i, 32 i + 32), and flags[i]
 * is PAGE_ZERO for an all-zero page, PAGE_SAME when the digest equals
 * expected digest i, PAGE_OTHER otherwise. `expected` may hold fewer digests
 * than there are pages. No buffer may be modified until the promise settles.
 */
export function classifyPagesAsync(
  pages: Uint8Array,
  offsets: PageOffsets | undefined,
  expected: Uint8Array,
  digests: Uint8Array,
  flags: Uint8Array,
): Promise<void> {
  return callNativeAsync(() => addon.classifyPagesAsync(pages, toOffsets(offsets), expected, digests, flags));
}

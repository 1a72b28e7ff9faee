import { addon } from "./addon.js";
import { callNative } from "./errors.js";
import { toOffsets, type PageOffsets } from "./pages.js";

/** One flag per page of the batch: 1 when the page is all zero bytes, else 0. */
export function zeroPages(pages: Uint8Array, offsets?: PageOffsets): Uint8Array {
  return callNative(() => addon.zeroPages(pages, toOffsets(offsets)));
}

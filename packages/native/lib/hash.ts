import { addon } from "./addon.js";
import { callNative, callNativeAsync } from "./errors.js";
import { toOffsets, type PageOffsets } from "./pages.js";

/**
 * Page digests are BLAKE3 (256-bit): collision resistant, and several times
 * faster than SHA-256 on 4 KiB pages (native/README.md has the measurements).
 */
export const DIGEST_LENGTH = 32;

/** Version of the BLAKE3 C library compiled into the addon. */
export const BLAKE3_VERSION: string = addon.blake3Version;

/** The BLAKE3 digest of any bytes. */
export function blake3(data: Uint8Array): Buffer {
  return callNative(() => addon.blake3(data));
}

/**
 * BLAKE3 digests of a batch of 4 KiB pages, in one call on this thread:
 * digest i is bytes [32 i, 32 i + 32) of the result, equal to blake3(page i).
 */
export function hashPages(pages: Uint8Array, offsets?: PageOffsets): Buffer {
  return callNative(() => addon.hashPages(pages, toOffsets(offsets)));
}

/**
 * hashPages on a libuv worker thread, for batches too big to hash on the
 * event loop. `pages` must not be modified until the promise settles.
 */
export function hashPagesAsync(pages: Uint8Array, offsets?: PageOffsets): Promise<Buffer> {
  return callNativeAsync(() => addon.hashPagesAsync(pages, toOffsets(offsets)));
}

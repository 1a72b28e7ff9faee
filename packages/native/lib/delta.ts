import { addon } from "./addon.js";
import { callNative } from "./errors.js";

/** The page delta format this build writes and reads (native/README.md, "Page delta"). */
export const DELTA_VERSION: number = addon.deltaVersion;

/** No delta is longer than this (4099 bytes: a version byte, one op, a whole page). */
export const MAX_DELTA_LENGTH: number = addon.maxDeltaLength;

/** Encodes a 4 KiB page against its previous version (XOR, then run-length). */
export function deltaEncode(page: Uint8Array, previous: Uint8Array): Buffer {
  return callNative(() => addon.deltaEncode(page, previous));
}

/**
 * Rebuilds a page from its delta and the previous version. Throws
 * DeltaFormatError for a delta that is not well formed, whatever its bytes.
 * The page is written to `target` (4096 bytes, returned) when given, which
 * saves allocating a Buffer per page; `target` is untouched on error.
 */
export function deltaDecode(delta: Uint8Array, previous: Uint8Array): Buffer;
export function deltaDecode<T extends Uint8Array>(delta: Uint8Array, previous: Uint8Array, target: T): T;
export function deltaDecode(delta: Uint8Array, previous: Uint8Array, target?: Uint8Array): Uint8Array {
  return callNative(() => addon.deltaDecode(delta, previous, target));
}

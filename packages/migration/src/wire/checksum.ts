import { blake3 } from "@xenfleet/native";
import { CHECKSUM_SIZE } from "./format.js";

/**
 * The frame checksum: BLAKE3 over the first 16 header bytes and the BLAKE3 of
 * the stored payload, truncated. Hashing the payload's digest rather than a
 * copy of header+payload keeps large frames copy-free; covering the header
 * means a flipped type, length or sequence number is caught too.
 */
export function frameChecksum(header16: Uint8Array, stored: Uint8Array): Buffer {
  const inner = blake3(stored);
  const outer = Buffer.allocUnsafe(16 + inner.length);
  outer.set(header16.subarray(0, 16), 0);
  outer.set(inner, 16);
  return blake3(outer).subarray(0, CHECKSUM_SIZE);
}

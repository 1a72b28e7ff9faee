import { blake3 } from "@xenfleet/native";
import { CHECKSUMMED_HEADER_BYTES, CHECKSUM_SIZE } from "./format.js";

/**
 * The frame checksum: BLAKE3 over the header bytes before the checksum and the BLAKE3 of
 * the stored payload, truncated. Hashing the payload's digest rather than a
 * copy of header+payload keeps large frames copy-free; covering the header
 * means a flipped type, length or sequence number is caught too.
 */
export function frameChecksum(header: Uint8Array, stored: Uint8Array): Buffer {
  const inner = blake3(stored);
  const outer = Buffer.allocUnsafe(CHECKSUMMED_HEADER_BYTES + inner.length);
  outer.set(header.subarray(0, CHECKSUMMED_HEADER_BYTES), 0);
  outer.set(inner, CHECKSUMMED_HEADER_BYTES);
  return blake3(outer).subarray(0, CHECKSUM_SIZE);
}

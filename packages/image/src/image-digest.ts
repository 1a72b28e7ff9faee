/**
 * The image digest: what a manifest of version 2 records of its stream
 * instead of the stream's SHA-256. It is computed from what import and
 * export have at hand anyway, the page digests (BLAKE3, computed to
 * deduplicate on import and to check each page on export) and the stream's
 * non-page bytes (headers, records, pfn arrays: about 1% of a stream), so
 * neither path hashes every byte of the stream a second time.
 *
 *   digest = SHA-256( TAG | streamBytes u64 | pages u64
 *                     | SHA-256(every non-page byte, in stream order)
 *                     | SHA-256(per page, in stream order: its stream offset u64 | its digest [32]) )
 *
 * little-endian; a zero page's digest is 32 zero bytes, as in page lists.
 * The page offsets make the split between page and non-page bytes part of
 * what is hashed: two streams with the same bytes apart from a page moved
 * differ in it. Given the non-page bytes, the pages' offsets and the total
 * length, there is exactly one stream, so the digest pins the stream as
 * firmly as the collision resistance of SHA-256 and BLAKE3.
 */
import { createHash, type Hash } from "node:crypto";
import { PAGE_SIZE } from "@xenfleet/native";

const TAG = Buffer.from("xenfleet image digest 1\0", "latin1");
const ENTRY_BYTES = 8 + 32;
const ZERO_DIGEST = new Uint8Array(32);

export class ImageDigester {
  private readonly raw: Hash = createHash("sha256");
  private readonly pageEntries: Hash = createHash("sha256");
  private entries = Buffer.allocUnsafe(ENTRY_BYTES * 1024);
  /** Stream bytes so far. */
  bytes = 0;
  pages = 0;

  /** Non-page bytes, next in the stream. */
  addRaw(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.raw.update(bytes);
    this.bytes += bytes.length;
  }

  /**
   * `count` pages, next in the stream, by their digests (digests[32 i..32 i + 32));
   * `isZero(i)`, when given, says page i is all zero (its digest is taken as zero).
   */
  addPages(digests: Uint8Array, count: number, isZero?: (i: number) => boolean): void {
    if (this.entries.length < count * ENTRY_BYTES) this.entries = Buffer.allocUnsafe(count * ENTRY_BYTES);
    const out = this.entries;
    for (let i = 0; i < count; i++) {
      const at = i * ENTRY_BYTES;
      const offset = this.bytes + i * PAGE_SIZE;
      out.writeUInt32LE(offset % 2 ** 32, at);
      out.writeUInt32LE(Math.floor(offset / 2 ** 32), at + 4);
      out.set(isZero?.(i) ? ZERO_DIGEST : digests.subarray(i * 32, i * 32 + 32), at + 8);
    }
    this.pageEntries.update(out.subarray(0, count * ENTRY_BYTES));
    this.bytes += count * PAGE_SIZE;
    this.pages += count;
  }

  /** The digest, hex. The digester is not used afterwards. */
  digest(): string {
    const lengths = Buffer.alloc(16);
    lengths.writeBigUInt64LE(BigInt(this.bytes), 0);
    lengths.writeBigUInt64LE(BigInt(this.pages), 8);
    return createHash("sha256")
      .update(TAG)
      .update(lengths)
      .update(this.raw.digest())
      .update(this.pageEntries.digest())
      .digest("hex");
  }
}

/**
 * Per-frame compression. Decompression never allocates more than the frame's
 * declared raw length, which the decoder has already bounded: zstd writes into
 * a buffer of exactly that size, and the size lz4 prepends must equal it.
 */
import { compressSync as lz4Compress, uncompressSync as lz4Uncompress } from "lz4-napi";
import { Compressor } from "zstd-napi";
import { createRequire } from "node:module";
import type { Compression } from "./format.js";

// The low-level binding is CommonJS assigning a native module to module.exports; load it with require.
const zstdBinding = createRequire(import.meta.url)("zstd-napi/binding.js") as typeof import("zstd-napi/binding.js");

let zstd: Compressor | undefined;

/** Compresses `raw`; returns undefined when the result would not be smaller (send it as "none"). */
export function compress(algorithm: Compression, raw: Buffer): Buffer | undefined {
  let out: Buffer;
  if (algorithm === "none") return undefined;
  if (algorithm === "lz4") out = lz4Compress(raw);
  else {
    zstd ??= makeZstd();
    out = zstd.compress(raw);
  }
  return out.length < raw.length ? out : undefined;
}

/** Throws (any error) when `stored` does not decompress to exactly `rawLength` bytes. */
export function decompress(algorithm: Compression, stored: Buffer, rawLength: number): Buffer {
  if (algorithm === "none") return stored;
  if (algorithm === "lz4") {
    // lz4-napi's block format starts with the raw size (u32 LE); check it before it allocates.
    if (stored.length < 4 || stored.readUInt32LE(0) !== rawLength)
      throw new Error("lz4 size prefix does not match the frame's raw length");
    const out = lz4Uncompress(stored);
    if (out.length !== rawLength) throw new Error(`lz4 produced ${out.length} bytes, frame says ${rawLength}`);
    return out;
  }
  const out = Buffer.allocUnsafe(rawLength);
  const n = zstdBinding.decompress(out, stored);
  if (n !== rawLength) throw new Error(`zstd produced ${n} bytes, frame says ${rawLength}`);
  return out;
}

function makeZstd(): Compressor {
  const c = new Compressor();
  // Level 1: the link is the bottleneck only when it is slow; a fast level keeps the CPU off the critical path.
  c.setParameters({ compressionLevel: 1 });
  return c;
}

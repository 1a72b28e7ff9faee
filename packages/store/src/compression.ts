/**
 * The one codec of the fleet's formats: packs (their frames), page list
 * blocks (their bodies) and the migration wire (each frame's payload) all
 * compress and decompress through it. Each of those formats names the
 * algorithm in its own bytes, with its own code table: the codes belong to
 * the format, the algorithms and their frame encoding to this module.
 */
import lz4 from "lz4-napi";
import zstd from "zstd-napi";
import zstdBinding from "zstd-napi/binding.js";

/** A compression algorithm, as the fleet's formats name it. */
export type Compression = "none" | "zstd" | "lz4";

export const COMPRESSIONS: readonly Compression[] = ["none", "zstd", "lz4"];

export function isCompression(value: string): value is Compression {
  return (COMPRESSIONS as readonly string[]).includes(value);
}

/** Default zstd level: fast enough for a compress worker to keep up, most of the ratio. */
export const DEFAULT_ZSTD_LEVEL = 3;

/**
 * Compresses one frame. zstd frames record their content size; lz4 frames
 * are lz4 blocks prefixed with their size (u32 little-endian). Both let the
 * reader check the size before decompressing. "none" returns a copy.
 */
export function compressFrame(algorithm: Compression, raw: Uint8Array, zstdLevel = DEFAULT_ZSTD_LEVEL): Buffer {
  switch (algorithm) {
    case "none":
      return Buffer.from(raw);
    case "zstd":
      return zstdCompressor(zstdLevel).compress(raw);
    case "lz4":
      return lz4.compressSync(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
  }
}

/**
 * One zstd compressor per level, reused: zstd.compress() sets up a fresh
 * context (hundreds of KiB) per call, which costs more than compressing a
 * small frame (a page list block). The output is the same bytes.
 */
const compressors = new Map<number, zstd.Compressor>();

function zstdCompressor(level: number): zstd.Compressor {
  let compressor = compressors.get(level);
  if (compressor === undefined) {
    compressor = new zstd.Compressor();
    compressor.setParameters({ compressionLevel: level });
    compressors.set(level, compressor);
  }
  return compressor;
}

/**
 * Decompresses one frame that must hold exactly `rawLength` bytes. Never
 * allocates more than `rawLength` (which the caller has bounded), whatever
 * the frame claims; throws a plain Error describing the mismatch, which the
 * caller turns into its own error naming the object (a pack, a block) or
 * the frame. "none" returns a copy.
 */
export function decompressFrame(algorithm: Compression, stored: Uint8Array, rawLength: number): Buffer {
  switch (algorithm) {
    case "none":
      if (stored.length !== rawLength) throw new Error(`stored frame is ${stored.length} bytes, expected ${rawLength}`);
      return Buffer.from(stored);
    case "zstd": {
      const declared = safely(() => zstdBinding.getFrameContentSize(stored));
      if (declared !== rawLength)
        throw new Error(`zstd frame declares ${String(declared)} bytes, expected ${rawLength}`);
      // Not zeroed: it is returned only if the frame filled all of it.
      const out = Buffer.allocUnsafe(rawLength);
      const written = safely(() => zstdBinding.decompress(out, stored));
      if (written !== rawLength)
        throw new Error(`zstd frame decompressed to ${String(written)} bytes, expected ${rawLength}`);
      return out;
    }
    case "lz4": {
      if (stored.length < 4) throw new Error("lz4 frame shorter than its size prefix");
      const declared = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).readUInt32LE(0);
      if (declared !== rawLength) throw new Error(`lz4 frame declares ${declared} bytes, expected ${rawLength}`);
      const out = safely(() => lz4.uncompressSync(stored));
      if (typeof out === "string" || out.length !== rawLength)
        throw new Error(`lz4 frame did not decompress to ${rawLength} bytes: ${String(out)}`);
      return out;
    }
  }
}

/** Runs a native call, turning its exception into a message (native errors carry no useful type). */
function safely<T>(fn: () => T): T | string {
  try {
    return fn();
  } catch (err) {
    return `error (${err instanceof Error ? err.message : String(err)})`;
  }
}

import { createHash } from "node:crypto";
import { contentKey, type ContentId, type HashAlgorithm } from "../content-id.js";
import { InvalidContentIdError } from "../errors.js";
import type { ObjectStore, PutResult } from "../object-store.js";
import type { BufferPool } from "./buffer-pool.js";
import { compressFrame, DEFAULT_ZSTD_LEVEL, type Compression } from "../compression.js";
import {
  encodeHeader,
  encodeIndex,
  encodeTrailerBody,
  HEADER,
  MAX_FRAME_RAW_BYTES,
  MAX_PACK_ENTRIES,
  TRAILER,
  type EntryRecord,
  type FrameRecord,
} from "./format.js";

/** Default pack size: a few MiB keeps object counts sane on S3 without making single uploads slow. */
export const DEFAULT_PACK_TARGET_BYTES = 4 * 1024 * 1024;
/** Default entries per compressed frame: 16 pages = 64 KiB raw, the most a single-page read decompresses. */
export const DEFAULT_FRAME_ENTRIES = 16;

export interface PackWriterOptions {
  /** The algorithm of the entry ids (pages: blake3). */
  readonly entryHash: HashAlgorithm;
  readonly compression?: Compression;
  /** isFull() turns true once this many raw entry bytes are in. */
  readonly targetBytes?: number;
  readonly frameEntries?: number;
  readonly zstdLevel?: number;
  /** Where the writer takes its buffer from (when a full pack fits in one), and finish() gives it back. */
  readonly buffers?: BufferPool;
}

/** Where an entry sits in a finished pack (what an image index records). */
export interface PackEntryLocation {
  readonly id: string;
  readonly frame: number;
  readonly offsetInFrame: number;
  readonly length: number;
}

export interface FinishedPack {
  /** SHA-256 of `bytes`: the pack's content id. */
  readonly id: ContentId<"sha256">;
  /** packs/<ab>/<id> */
  readonly key: string;
  readonly bytes: Buffer;
  readonly entries: readonly PackEntryLocation[];
  /** Hands `bytes` back to the writer's buffer pool: call it once nothing reads them (the pack is stored). */
  release(): void;
}

/** The store key of a pack. */
export function packKey(id: ContentId<"sha256">): string {
  return contentKey("packs", id);
}

/**
 * Accumulates entries (content id + bytes) and produces one pack (format.ts).
 * The caller adds entries until isFull(), then finish() and store the bytes
 * with writePack. Bytes are copied on add, so callers may reuse buffers; they
 * go into one buffer sized for a full pack, not one allocation per entry,
 * after room for the header: an uncompressed pack is laid out in place, its
 * index and trailer appended, and never copied again.
 */
export class PackWriter {
  readonly entryHash: HashAlgorithm;
  readonly compression: Compression;
  private readonly targetBytes: number;
  private readonly frameEntries: number;
  private readonly zstdLevel: number;
  /** The header's room, then entry bytes back to back (grown by doubling); each entry's id and end offset (from the first entry) in them. */
  private data: Buffer;
  private readonly buffers: BufferPool | undefined;
  private readonly ids: string[] = [];
  private readonly ends: number[] = [];
  private readonly seen = new Set<string>();
  private raw = 0;
  private finished = false;

  constructor(options: PackWriterOptions) {
    this.entryHash = options.entryHash;
    this.compression = options.compression ?? "none";
    this.targetBytes = options.targetBytes ?? DEFAULT_PACK_TARGET_BYTES;
    this.frameEntries = options.frameEntries ?? DEFAULT_FRAME_ENTRIES;
    this.zstdLevel = options.zstdLevel ?? DEFAULT_ZSTD_LEVEL;
    if (!Number.isInteger(this.frameEntries) || this.frameEntries < 1)
      throw new RangeError(`frameEntries must be a positive integer`);
    // Room for a full pack from the start (growing copies it all again), but
    // not for an unbounded target (a rewrite of one pack): that grows by doubling.
    const room = packRoom(Math.min(this.targetBytes, 2 * DEFAULT_PACK_TARGET_BYTES));
    this.buffers = options.buffers !== undefined && options.buffers.bufferBytes >= room ? options.buffers : undefined;
    this.data = this.buffers?.take() ?? Buffer.allocUnsafe(room);
  }

  /** Adds an entry; false (and nothing added) if this pack already holds the id. */
  add(id: ContentId, data: Uint8Array): boolean {
    if (this.finished) throw new Error("PackWriter.add after finish");
    if (!/^[0-9a-f]{64}$/.test(id)) throw new InvalidContentIdError(id, "an entry id is 64 lowercase hex digits");
    if (this.seen.has(id)) return false;
    if (this.ids.length >= MAX_PACK_ENTRIES) throw new RangeError(`a pack holds at most ${MAX_PACK_ENTRIES} entries`);
    if (data.length > MAX_FRAME_RAW_BYTES / this.frameEntries) {
      throw new RangeError(`entry of ${data.length} bytes is too large for frames of ${this.frameEntries} entries`);
    }
    if (HEADER.size + this.raw + data.length > this.data.length) this.grow(HEADER.size + this.raw + data.length);
    this.data.set(data, HEADER.size + this.raw);
    this.raw += data.length;
    this.seen.add(id);
    this.ids.push(id);
    this.ends.push(this.raw);
    return true;
  }

  has(id: ContentId): boolean {
    return this.seen.has(id);
  }

  get entryCount(): number {
    return this.ids.length;
  }

  /** Raw entry bytes added so far. */
  get rawBytes(): number {
    return this.raw;
  }

  isFull(): boolean {
    return this.raw >= this.targetBytes;
  }

  /** Lays out frames, index and trailer and returns the pack. The writer is spent afterwards. */
  finish(): FinishedPack {
    this.finished = true;
    const header = encodeHeader({ compression: this.compression, entryHash: this.entryHash });
    const stored: Buffer[] = [];
    const frames: FrameRecord[] = [];
    const entries: EntryRecord[] = [];
    let offset = HEADER.size;
    for (let first = 0; first < this.ids.length; first += this.frameEntries) {
      const last = Math.min(this.ids.length, first + this.frameEntries);
      const start = first === 0 ? 0 : this.ends[first - 1]!;
      for (let e = first, at = start; e < last; at = this.ends[e]!, e++) {
        entries.push({ id: this.ids[e]!, frame: frames.length, offsetInFrame: at - start, length: this.ends[e]! - at });
      }
      const raw = this.data.subarray(HEADER.size + start, HEADER.size + this.ends[last - 1]!);
      // Uncompressed frames are the entry bytes themselves, already in place.
      const frame = this.compression === "none" ? raw : compressFrame(this.compression, raw, this.zstdLevel);
      frames.push({ offset, storedLength: frame.length, rawLength: raw.length });
      stored.push(frame);
      offset += frame.length;
    }
    const index = encodeIndex(frames, entries);
    const indexChecksum = createHash("sha256").update(index).digest();
    const trailer = encodeTrailerBody({
      indexOffset: offset,
      frameCount: frames.length,
      entryCount: entries.length,
      indexChecksum,
    });
    const bodyLength = offset + index.length + trailer.length;
    let bytes: Buffer;
    let release = () => {};
    if (this.compression === "none") {
      if (bodyLength + CHECKSUM_BYTES > this.data.length) this.grow(bodyLength + CHECKSUM_BYTES);
      bytes = this.data.subarray(0, bodyLength + CHECKSUM_BYTES);
      header.copy(bytes, 0);
      index.copy(bytes, offset);
      trailer.copy(bytes, offset + index.length);
      const pooled = this.data;
      if (this.buffers !== undefined) release = () => this.buffers!.give(pooled);
    } else {
      bytes = Buffer.allocUnsafe(bodyLength + CHECKSUM_BYTES);
      let at = 0;
      for (const part of [header, ...stored, index, trailer]) {
        bytes.set(part, at);
        at += part.length;
      }
      // The entry bytes are all compressed into `bytes`: the buffer is free now.
      this.buffers?.give(this.data);
    }
    const body = bytes.subarray(0, bodyLength);
    // The pack checksum is SHA-256(body) and the id SHA-256(body + checksum): one pass over the body serves both.
    const hash = createHash("sha256").update(body);
    const checksum = hash.copy().digest();
    checksum.copy(bytes, bodyLength);
    const id = hash.update(checksum).digest("hex") as ContentId<"sha256">;
    this.data = EMPTY;
    return { id, key: packKey(id), bytes, entries, release };
  }

  /** Moves the pack so far into a larger buffer (a pooled one goes back to its pool). */
  private grow(needed: number): void {
    const grown = Buffer.allocUnsafe(Math.max(this.data.length * 2, needed));
    this.data.copy(grown, 0, 0, HEADER.size + this.raw);
    this.buffers?.give(this.data);
    this.data = grown;
  }
}

/** The pack checksum closes the trailer. */
const CHECKSUM_BYTES = TRAILER.size - TRAILER.packChecksum;
const EMPTY = Buffer.alloc(0);

/**
 * A buffer that holds a whole pack of `targetBytes` laid out in place: the
 * header, the entries (the last one may cross the target: a page or so),
 * and the index and trailer (64 bytes and less per entry).
 */
export function packRoom(targetBytes: number): number {
  return HEADER.size + targetBytes + 128 * 1024;
}

/** Stores a finished pack under its content key (skipped if an identical pack exists). */
export function writePack(store: ObjectStore, pack: FinishedPack): Promise<PutResult> {
  return store.put(pack.key, pack.bytes);
}

import { createHash } from "node:crypto";
import { sha256Hasher, sha256Id, type ContentId, type HashAlgorithm, type Hasher } from "../content-id.js";
import { CorruptObjectError, ObjectNotFoundError, PackEntryNotFoundError, UnsupportedPackError } from "../errors.js";
import type { ObjectStore } from "../object-store.js";
import { decompressFrame, type Compression } from "../compression.js";
import { HEADER, TRAILER, type EntryRecord, type FrameRecord } from "./format.js";
import { parseHeader, parseIndex, parseTrailer } from "./parse.js";
import { packKey } from "./writer.js";

export interface PackReaderOptions {
  /**
   * Hash functions for entry ids. SHA-256 is built in; BLAKE3 (page ids)
   * comes from the native addon. Reading entries by range needs the hasher
   * of the pack's entry hash: each entry read is checked against its id.
   */
  readonly hashers?: Partial<Record<HashAlgorithm, Hasher>>;
}

/** How much of a pack's end to fetch first: the trailer, and for ordinary packs the whole index with it. */
const TAIL_READ_BYTES = 64 * 1024;

type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/**
 * Reads a pack: validates its header, trailer and index in full on open
 * (typed errors on any inconsistency), then reads single entries. For an
 * uncompressed pack an entry is one range read of its own bytes; for a
 * compressed one, one range read of its frame, decompressed. Every entry
 * read is checked against its id.
 */
export class PackReader {
  readonly size: number;
  readonly compression: Compression;
  readonly entryHash: HashAlgorithm;
  readonly frames: readonly FrameRecord[];
  readonly entries: readonly EntryRecord[];
  private readonly byId: Map<string, EntryRecord>;
  private readonly hasher: Hasher | undefined;

  private constructor(
    readonly id: ContentId<"sha256">,
    readonly key: string,
    private readonly readAt: ReadAt,
    parts: {
      size: number;
      compression: Compression;
      entryHash: HashAlgorithm;
      frames: FrameRecord[];
      entries: EntryRecord[];
    },
    hasher: Hasher | undefined,
  ) {
    this.size = parts.size;
    this.compression = parts.compression;
    this.entryHash = parts.entryHash;
    this.frames = parts.frames;
    this.entries = parts.entries;
    this.byId = new Map(parts.entries.map((e) => [e.id, e]));
    this.hasher = hasher;
  }

  /**
   * Opens the pack `packs/<ab>/<id>` with range reads (its size, its tail,
   * its header), without reading its frames. The pack checksum is not
   * checked (that needs every byte); the index checksum and each entry's id are.
   */
  static async open(store: ObjectStore, id: ContentId<"sha256">, options: PackReaderOptions = {}): Promise<PackReader> {
    const key = packKey(id);
    const info = await store.head(key);
    if (info === undefined) throw new ObjectNotFoundError(key);
    const size = info.size;
    const readAt: ReadAt = async (offset, length) => {
      const bytes = await store.get(key, { offset, length });
      if (bytes.length !== length)
        throw new CorruptObjectError(key, `truncated: read ${bytes.length} of ${length} bytes`, offset);
      return bytes;
    };
    const header = parseHeader(key, await store.get(key, { offset: 0, length: HEADER.size }), size);
    const tailLength = Math.min(size, TAIL_READ_BYTES);
    const tail = await readAt(size - tailLength, tailLength);
    const trailer = parseTrailer(key, tail.subarray(tail.length - TRAILER.size), size);
    const indexEnd = size - TRAILER.size;
    const index =
      trailer.indexOffset >= size - tailLength
        ? tail.subarray(trailer.indexOffset - (size - tailLength), indexEnd - (size - tailLength))
        : await readAt(trailer.indexOffset, indexEnd - trailer.indexOffset);
    const { frames, entries } = parseIndex(key, header, trailer, index);
    const hasher = options.hashers?.[header.entryHash] ?? (header.entryHash === "sha256" ? sha256Hasher : undefined);
    if (hasher === undefined)
      throw new UnsupportedPackError(
        key,
        `entries are ${header.entryHash} ids and no ${header.entryHash} hasher was given to verify them`,
      );
    return new PackReader(id, key, readAt, { size, ...header, frames, entries }, hasher);
  }

  /**
   * A reader over a whole pack in memory, after checking the pack
   * checksum and that the bytes hash to `id`. Entries are then verified by
   * that, and additionally against their ids when a hasher is at hand.
   *
   * With `checkWhole: false`, only the pack's structure is checked (header,
   * trailer, the index and its checksum), not its bytes as a whole: for a
   * caller that checks every entry it uses against its id itself (an export
   * checks each page against its digest). Two SHA-256 passes over the pack
   * are then saved.
   */
  static fromBytes(
    id: ContentId<"sha256">,
    bytes: Buffer,
    options: PackReaderOptions & { checkWhole?: boolean } = {},
  ): PackReader {
    const key = packKey(id);
    const size = bytes.length;
    const header = parseHeader(key, bytes, size);
    const trailer = parseTrailer(key, bytes.subarray(size - TRAILER.size), size);
    if (options.checkWhole ?? true) {
      const checksumAt = size - TRAILER.size + TRAILER.packChecksum;
      const checksum = createHash("sha256").update(bytes.subarray(0, checksumAt)).digest();
      if (!checksum.equals(bytes.subarray(checksumAt)))
        throw new CorruptObjectError(key, "pack checksum mismatch", checksumAt);
      const actual = sha256Id(bytes);
      if (actual !== id) throw new CorruptObjectError(key, `pack hashes to ${actual}, expected its id ${id}`);
    }
    const { frames, entries } = parseIndex(
      key,
      header,
      trailer,
      bytes.subarray(trailer.indexOffset, size - TRAILER.size),
    );
    const hasher = options.hashers?.[header.entryHash] ?? (header.entryHash === "sha256" ? sha256Hasher : undefined);
    const readAt: ReadAt = async (offset, length) => bytes.subarray(offset, offset + length);
    return new PackReader(id, key, readAt, { size, ...header, frames, entries }, hasher);
  }

  has(entryId: string): boolean {
    return this.byId.has(entryId);
  }

  /** The bytes of one entry, checked against its id. */
  async read(entryId: string): Promise<Buffer> {
    const entry = this.byId.get(entryId);
    if (entry === undefined) throw new PackEntryNotFoundError(this.key, entryId);
    const frame = this.frames[entry.frame]!;
    let data: Buffer;
    if (this.compression === "none") {
      data = await this.readAt(frame.offset + entry.offsetInFrame, entry.length);
    } else {
      const raw = await this.readFrame(entry.frame);
      data = raw.subarray(entry.offsetInFrame, entry.offsetInFrame + entry.length);
    }
    this.verify(entry, data, frame.offset + entry.offsetInFrame);
    return data;
  }

  /** Every entry in pack order, frame by frame (one decompression per frame). */
  async *readAll(): AsyncIterable<{ id: string; data: Buffer }> {
    let frameIndex = -1;
    let raw: Buffer = Buffer.alloc(0);
    for (const entry of this.entries) {
      if (entry.frame !== frameIndex) {
        frameIndex = entry.frame;
        raw = await this.readFrame(frameIndex);
      }
      const data = raw.subarray(entry.offsetInFrame, entry.offsetInFrame + entry.length);
      this.verify(entry, data, this.frames[entry.frame]!.offset);
      yield { id: entry.id, data };
    }
  }

  /** The raw bytes of frame `index`, decompressed; its entries are not checked against their ids. */
  frame(index: number): Promise<Buffer> {
    return this.readFrame(index);
  }

  private async readFrame(index: number): Promise<Buffer> {
    const frame = this.frames[index]!;
    const stored = await this.readAt(frame.offset, frame.storedLength);
    // An uncompressed frame is its stored bytes (their length was checked with the index): a view, not a copy.
    if (this.compression === "none") return stored;
    try {
      return decompressFrame(this.compression, stored, frame.rawLength);
    } catch (err) {
      throw new CorruptObjectError(
        this.key,
        `frame ${index}: ${err instanceof Error ? err.message : String(err)}`,
        frame.offset,
      );
    }
  }

  private verify(entry: EntryRecord, data: Buffer, offset: number): void {
    if (this.hasher === undefined) return;
    const actual = Buffer.from(this.hasher(data)).toString("hex");
    if (actual !== entry.id) throw new CorruptObjectError(this.key, `entry ${entry.id} hashes to ${actual}`, offset);
  }
}

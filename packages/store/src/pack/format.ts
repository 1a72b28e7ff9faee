/**
 * The pack object format, version 1. Defined here once; the writer and the
 * reader both use these layouts and nothing else. Described in full in
 * packages/store/README.md ("Pack format").
 *
 * A pack holds many small blobs ("entries", typically 4 KiB pages), each
 * named by its content id, grouped into frames that are compressed
 * independently, so reading one entry decompresses one frame, not the pack.
 * Like a restic pack, the index is at the end: the writer streams entries
 * out before it knows the index, and the pack describes itself.
 *
 *   offset 0            header (16 bytes)
 *   16                  frames, back to back
 *   indexOffset         index: frame table, then entry table
 *   size - 88           trailer (88 bytes)
 *
 * Byte order: every multi-byte integer is little-endian, as the header's
 * byteOrder field states (1 = little-endian, the only value defined).
 *
 * Header:   magic "XFLTPACK" [8] | version u8 | byteOrder u8 | compression u8 | entryHash u8 | reserved u32 (0)
 * Frame:    offset u64 | storedLength u32 | rawLength u32                     (16 bytes each)
 * Entry:    id [32] | frame u32 | offsetInFrame u32 | length u32 | reserved u32 (0)   (48 bytes each)
 * Trailer:  indexOffset u64 | frameCount u32 | entryCount u32 | indexChecksum [32] (SHA-256 of the index)
 *           | magic "XFLTPEND" [8] | packChecksum [32] (SHA-256 of every byte before it)
 *
 * Rules a valid pack follows (the reader checks all of them):
 * - frames are contiguous from byte 16 to indexOffset, in order;
 * - the index is exactly frameCount*16 + entryCount*48 bytes and ends where
 *   the trailer starts;
 * - each frame's entries follow each other in order and tile its raw bytes
 *   exactly, every frame has at least one entry, no id appears twice;
 * - an uncompressed frame's stored and raw lengths are equal, so an entry
 *   of an uncompressed pack is read with one range read of its own bytes.
 * The pack's store key is packs/<ab>/<SHA-256 of the whole pack>.
 */
import { defineLayout, field } from "@xenfleet/core";
import type { HashAlgorithm } from "../content-id.js";
import type { Compression } from "../compression.js";

export const PACK_MAGIC = Buffer.from("XFLTPACK", "latin1");
export const PACK_END_MAGIC = Buffer.from("XFLTPEND", "latin1");
export const PACK_VERSION = 1;
export const BYTE_ORDER_LITTLE_ENDIAN = 1;

export const HEADER_LAYOUT = defineLayout("pack header", {
  size: 16,
  byteOrder: "little",
  fields: {
    magic: field.bytes(0, 8),
    version: field.u8(8),
    byteOrder: field.u8(9),
    compression: field.u8(10),
    entryHash: field.u8(11),
    reserved: field.u32(12),
  },
});
export const FRAME_RECORD_LAYOUT = defineLayout("pack frame record", {
  size: 16,
  byteOrder: "little",
  fields: { offset: field.u64(0), storedLength: field.u32(8), rawLength: field.u32(12) },
});
export const ENTRY_RECORD_LAYOUT = defineLayout("pack entry record", {
  size: 48,
  byteOrder: "little",
  fields: {
    id: field.bytes(0, 32),
    frame: field.u32(32),
    offsetInFrame: field.u32(36),
    length: field.u32(40),
    reserved: field.u32(44),
  },
});
export const TRAILER_LAYOUT = defineLayout("pack trailer", {
  size: 88,
  byteOrder: "little",
  fields: {
    indexOffset: field.u64(0),
    frameCount: field.u32(8),
    entryCount: field.u32(12),
    indexChecksum: field.bytes(16, 32),
    magic: field.bytes(48, 8),
    packChecksum: field.bytes(56, 32),
  },
});

/** Field offsets and sizes, pinned by a test. */
export const HEADER = HEADER_LAYOUT.offsets;
export const FRAME_RECORD = FRAME_RECORD_LAYOUT.offsets;
export const ENTRY_RECORD = ENTRY_RECORD_LAYOUT.offsets;
export const TRAILER = TRAILER_LAYOUT.offsets;

/** Limits that bound what a hostile pack can make a reader allocate or loop over. */
export const MAX_PACK_ENTRIES = 1 << 20;
export const MAX_FRAME_RAW_BYTES = 16 * 1024 * 1024;

/** Wire codes, one table each way. */
export const COMPRESSION_CODES: Readonly<Record<Compression, number>> = { none: 0, zstd: 1, lz4: 2 };
export const HASH_CODES: Readonly<Record<HashAlgorithm, number>> = { sha256: 1, blake3: 2 };

export function compressionFromCode(code: number): Compression | undefined {
  return (Object.keys(COMPRESSION_CODES) as Compression[]).find((c) => COMPRESSION_CODES[c] === code);
}

export function hashFromCode(code: number): HashAlgorithm | undefined {
  return (Object.keys(HASH_CODES) as HashAlgorithm[]).find((h) => HASH_CODES[h] === code);
}

export interface PackHeader {
  readonly version: number;
  readonly compression: Compression;
  readonly entryHash: HashAlgorithm;
}

export interface FrameRecord {
  readonly offset: number;
  readonly storedLength: number;
  readonly rawLength: number;
}

export interface EntryRecord {
  /** 32 digest bytes as hex. */
  readonly id: string;
  readonly frame: number;
  readonly offsetInFrame: number;
  readonly length: number;
}

export interface PackTrailer {
  readonly indexOffset: number;
  readonly frameCount: number;
  readonly entryCount: number;
  readonly indexChecksum: Buffer;
}

export function encodeHeader(header: Omit<PackHeader, "version">): Buffer {
  return HEADER_LAYOUT.encode({
    magic: PACK_MAGIC,
    version: PACK_VERSION,
    byteOrder: BYTE_ORDER_LITTLE_ENDIAN,
    compression: COMPRESSION_CODES[header.compression],
    entryHash: HASH_CODES[header.entryHash],
  });
}

export function encodeIndex(frames: readonly FrameRecord[], entries: readonly EntryRecord[]): Buffer {
  const out = Buffer.alloc(frames.length * FRAME_RECORD_LAYOUT.size + entries.length * ENTRY_RECORD_LAYOUT.size);
  let at = 0;
  for (const f of frames) {
    FRAME_RECORD_LAYOUT.encodeInto(out, at, f);
    at += FRAME_RECORD_LAYOUT.size;
  }
  for (const e of entries) {
    ENTRY_RECORD_LAYOUT.encodeInto(out, at, { ...e, id: Buffer.from(e.id, "hex") });
    at += ENTRY_RECORD_LAYOUT.size;
  }
  return out;
}

/** The trailer up to (not including) the pack checksum, which covers it. */
export function encodeTrailerBody(trailer: PackTrailer): Buffer {
  return TRAILER_LAYOUT.encode({ ...trailer, magic: PACK_END_MAGIC }).subarray(0, TRAILER.packChecksum);
}

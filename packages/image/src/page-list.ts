/**
 * Page list blocks, format version 1. An image's stream is cut into runs of
 * BLOCK_TARGET_PAGES pages (between pages, also inside a PAGE_DATA record); a block holds one
 * run: the exact non-page bytes of its events (headers, records, PAGE_DATA
 * headers and pfn arrays) and, for each page, its digest and which pack
 * holds it. Blocks are content-addressed (blocks/<ab>/<sha256>), so a region
 * of memory that did not change since the previous night gives the same
 * block bytes and costs nothing; the manifest lists block ids.
 *
 *   header (32 bytes)  magic "XFLTPLST" [8] | version u8 | byteOrder u8 (1 = little-endian) | reserved u16 (0)
 *                      | packCount u32 | pieceCount u32 | pageCount u32 | rawBytes u32 | reserved u32 (0)
 *   pack table         packCount x pack id [32]
 *   pieces             pieceCount x (rawLength u32 | pageCount u32): rawLength stream bytes, then pageCount pages
 *   digests            pageCount x BLAKE3 digest [32] (all zero for a zero page)
 *   slots              pageCount x u16: index into the pack table, ZERO_SLOT for a zero page
 *   padding            zero bytes to a multiple of 8
 *   raw                rawBytes: the pieces' stream bytes, back to back
 *
 * Version 2 is version 1 with everything after the header stored as one
 * compressed frame, its algorithm named in the header (byte 10: 0 none,
 * 1 zstd, 2 lz4, as in packs; byte 11 reserved 0). The header's counts give
 * the frame's exact raw length, checked before anything is decompressed.
 * The pfn arrays in the raw bytes, the runs of equal slots and the
 * all-zero digests of zero pages compress well (about 40% off a block);
 * the digests of data pages do not.
 */
import { defineLayout, field, type LayoutInput } from "@xenfleet/core";
import { CorruptObjectError, compressFrame, decompressFrame, packFormat, type Compression } from "@xenfleet/store";
import { UnsupportedFormatError } from "./errors.js";
import type { Sha256Id } from "./keys.js";

export const BLOCK_MAGIC = Buffer.from("XFLTPLST", "latin1");
/** The version written for an uncompressed block; a compressed one is BLOCK_VERSION_COMPRESSED. */
export const BLOCK_VERSION = 1;
export const BLOCK_VERSION_COMPRESSED = 2;
export const BLOCK_HEADER_LAYOUT = defineLayout("page list block header", {
  size: 32,
  byteOrder: "little",
  fields: {
    magic: field.bytes(0, 8),
    version: field.u8(8),
    /** 1: little-endian, the only value defined. */
    byteOrder: field.u8(9),
    /** Version 2: the body's compression code (as in packs). Version 1: reserved, 0. */
    compression: field.u8(10),
    reserved: field.u8(11),
    packCount: field.u32(12),
    pieceCount: field.u32(16),
    pageCount: field.u32(20),
    rawBytes: field.u32(24),
    reserved2: field.u32(28),
  },
});
/** Field offsets and the header size, pinned by a test. */
export const BLOCK_HEADER = BLOCK_HEADER_LAYOUT.offsets;
/** The most bytes a block may describe (a block holds at most one record beyond its raw-bytes target, and records are at most 128 MiB). */
export const MAX_BLOCK_BYTES = 256 * 1024 * 1024;
export const PIECE_SIZE = 8;
export const DIGEST_SIZE = 32;
export const ZERO_SLOT = 0xffff;
/** At most this many packs per block (slots are u16, ZERO_SLOT excluded). */
export const MAX_BLOCK_PACKS = 0xfffe;
/**
 * A block holds at most this many pages (1 MiB of memory, 8.5 KiB of page
 * list). Small enough that a night's scattered changes leave most blocks
 * unchanged (so shared with the previous image), large enough to keep
 * object counts sane: 1024 blocks per GiB of memory.
 */
export const BLOCK_TARGET_PAGES = 256;
/** ... or after this many raw bytes, so records without pages do not make one huge block. */
export const BLOCK_TARGET_RAW_BYTES = 1024 * 1024;

export interface PageListBlock {
  readonly packs: readonly Sha256Id[];
  /** Pairs (rawLength, pageCount), one per piece. */
  readonly pieces: Uint32Array;
  /** pageCount x 32 bytes. */
  readonly digests: Uint8Array;
  readonly slots: Uint16Array;
  readonly raw: Uint8Array;
}

export function blockPageCount(block: PageListBlock): number {
  return block.slots.length;
}

/** Encodes a block: version 1 uncompressed, or version 2 with its body compressed. */
export function encodeBlock(block: PageListBlock, compression: Compression = "none"): Buffer {
  const header = {
    magic: BLOCK_MAGIC,
    version: BLOCK_VERSION,
    byteOrder: 1,
    packCount: block.packs.length,
    pieceCount: block.pieces.length / 2,
    pageCount: block.slots.length,
    rawBytes: block.raw.length,
  };
  const plain = encodePlainBlock(block, header);
  if (compression === "none") return plain;
  return Buffer.concat([
    BLOCK_HEADER_LAYOUT.encode({
      ...header,
      version: BLOCK_VERSION_COMPRESSED,
      compression: packFormat.COMPRESSION_CODES[compression],
    }),
    compressFrame(compression, plain.subarray(BLOCK_HEADER_LAYOUT.size)),
  ]);
}

function encodePlainBlock(block: PageListBlock, header: LayoutInput<typeof BLOCK_HEADER_LAYOUT.fields>): Buffer {
  const pageCount = block.slots.length;
  const pieceCount = block.pieces.length / 2;
  const tableEnd =
    BLOCK_HEADER_LAYOUT.size + block.packs.length * 32 + pieceCount * PIECE_SIZE + pageCount * (DIGEST_SIZE + 2);
  const rawAt = tableEnd + pad8(tableEnd);
  const out = Buffer.alloc(rawAt + block.raw.length);
  BLOCK_HEADER_LAYOUT.encodeInto(out, 0, header);
  let at: number = BLOCK_HEADER_LAYOUT.size;
  for (const pack of block.packs) at += out.write(pack, at, "hex");
  for (let i = 0; i < block.pieces.length; i++, at += 4) out.writeUInt32LE(block.pieces[i]!, at);
  out.set(block.digests.subarray(0, pageCount * DIGEST_SIZE), at);
  at += pageCount * DIGEST_SIZE;
  for (let i = 0; i < pageCount; i++, at += 2) out.writeUInt16LE(block.slots[i]!, at);
  out.set(block.raw, rawAt);
  return out;
}

/** Checks and decodes a block; `key` names it in errors. */
export function decodeBlock(key: string, bytes: Buffer): PageListBlock {
  const bad = (detail: string, offset?: number): never => {
    throw new CorruptObjectError(key, detail, offset);
  };
  if (bytes.length < BLOCK_HEADER_LAYOUT.size) bad(`truncated: ${bytes.length} bytes`, 0);
  const header = BLOCK_HEADER_LAYOUT.decode(bytes);
  if (!header.magic.equals(BLOCK_MAGIC)) bad("bad magic, not a page list block", 0);
  const { version, packCount, pieceCount, pageCount, rawBytes } = header;
  if (version !== BLOCK_VERSION && version !== BLOCK_VERSION_COMPRESSED) {
    throw new UnsupportedFormatError(
      key,
      `page list block version ${version} (this code reads ${BLOCK_VERSION} and ${BLOCK_VERSION_COMPRESSED})`,
    );
  }
  if (header.byteOrder !== 1) throw new UnsupportedFormatError(key, `byte order ${header.byteOrder}`);
  if (packCount > MAX_BLOCK_PACKS) bad(`${packCount} packs`, BLOCK_HEADER.packCount);
  const tableEnd = BLOCK_HEADER_LAYOUT.size + packCount * 32 + pieceCount * PIECE_SIZE + pageCount * (DIGEST_SIZE + 2);
  const rawAt = tableEnd + pad8(tableEnd);
  if (version === BLOCK_VERSION_COMPRESSED) {
    const code = header.compression;
    const compression = packFormat.compressionFromCode(code);
    if (compression === undefined) throw new UnsupportedFormatError(key, `block compression code ${code}`);
    if (header.reserved !== 0) bad("reserved header byte is not zero", BLOCK_HEADER.reserved);
    if (rawAt + rawBytes > MAX_BLOCK_BYTES)
      bad(`header describes ${rawAt + rawBytes} bytes, at most ${MAX_BLOCK_BYTES}`, 0);
    let body: Buffer;
    try {
      body = decompressFrame(
        compression,
        bytes.subarray(BLOCK_HEADER_LAYOUT.size),
        rawAt + rawBytes - BLOCK_HEADER_LAYOUT.size,
      );
    } catch (err) {
      throw new CorruptObjectError(
        key,
        `block body: ${err instanceof Error ? err.message : String(err)}`,
        BLOCK_HEADER_LAYOUT.size,
      );
    }
    // The decompressed block reads as version 1 from here on.
    bytes = Buffer.concat([bytes.subarray(0, BLOCK_HEADER_LAYOUT.size), body]);
  }
  if (rawAt + rawBytes !== bytes.length)
    bad(`header describes ${rawAt + rawBytes} bytes, object has ${bytes.length}`, 0);
  let at: number = BLOCK_HEADER_LAYOUT.size;
  const packs: Sha256Id[] = [];
  for (let i = 0; i < packCount; i++, at += 32) packs.push(bytes.toString("hex", at, at + 32) as Sha256Id);
  const pieces = new Uint32Array(pieceCount * 2);
  let rawSum = 0;
  let pageSum = 0;
  for (let i = 0; i < pieceCount * 2; i++, at += 4) {
    pieces[i] = bytes.readUInt32LE(at);
    if (i % 2 === 0) rawSum += pieces[i]!;
    else pageSum += pieces[i]!;
  }
  if (rawSum !== rawBytes || pageSum !== pageCount)
    bad(`pieces cover ${rawSum} raw bytes and ${pageSum} pages, header says ${rawBytes} and ${pageCount}`);
  const digests = bytes.subarray(at, at + pageCount * DIGEST_SIZE);
  at += pageCount * DIGEST_SIZE;
  const slots = new Uint16Array(pageCount);
  for (let i = 0; i < pageCount; i++, at += 2) {
    const slot = bytes.readUInt16LE(at);
    if (slot !== ZERO_SLOT && slot >= packCount) bad(`page ${i} names pack slot ${slot} of ${packCount}`, at);
    slots[i] = slot;
  }
  return { packs, pieces, digests, slots, raw: bytes.subarray(rawAt) };
}

function pad8(length: number): number {
  return (8 - (length % 8)) % 8;
}

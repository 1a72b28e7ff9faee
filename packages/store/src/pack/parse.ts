import { createHash } from "node:crypto";
import { CorruptObjectError, UnsupportedPackError } from "../errors.js";
import {
  BYTE_ORDER_LITTLE_ENDIAN,
  ENTRY_RECORD,
  ENTRY_RECORD_LAYOUT,
  FRAME_RECORD,
  FRAME_RECORD_LAYOUT,
  HEADER,
  HEADER_LAYOUT,
  MAX_FRAME_RAW_BYTES,
  MAX_PACK_ENTRIES,
  PACK_END_MAGIC,
  PACK_MAGIC,
  PACK_VERSION,
  TRAILER,
  TRAILER_LAYOUT,
  compressionFromCode,
  hashFromCode,
  type EntryRecord,
  type FrameRecord,
  type PackHeader,
  type PackTrailer,
} from "./format.js";

/**
 * Validation of a pack's fixed parts, field by field, before anything is
 * allocated on the strength of a field. `key` names the pack in errors.
 */

export function parseHeader(key: string, bytes: Buffer, packSize: number): PackHeader {
  if (packSize < HEADER.size + TRAILER.size || bytes.length < HEADER.size) {
    throw new CorruptObjectError(
      key,
      `truncated: ${packSize} bytes is smaller than a header and trailer (${HEADER.size + TRAILER.size})`,
      0,
    );
  }
  const header = HEADER_LAYOUT.decode(bytes);
  if (!header.magic.equals(PACK_MAGIC)) {
    throw new CorruptObjectError(key, `bad magic, not a pack`, HEADER.magic);
  }
  const { version, byteOrder, compression: compressionCode, entryHash: hashCode } = header;
  if (version !== PACK_VERSION)
    throw new UnsupportedPackError(key, `version ${version} (this code reads version ${PACK_VERSION})`);
  if (byteOrder !== BYTE_ORDER_LITTLE_ENDIAN)
    throw new UnsupportedPackError(key, `byte order ${byteOrder} (only 1, little-endian, is defined)`);
  const compression = compressionFromCode(compressionCode);
  if (compression === undefined) throw new UnsupportedPackError(key, `compression code ${compressionCode}`);
  const entryHash = hashFromCode(hashCode);
  if (entryHash === undefined) throw new UnsupportedPackError(key, `entry hash code ${hashCode}`);
  if (header.reserved !== 0) throw new CorruptObjectError(key, "reserved header field is not zero", HEADER.reserved);
  return { version, compression, entryHash };
}

/** Checks the trailer; `bytes` is exactly the last TRAILER.size bytes of a pack of `packSize` bytes. */
export function parseTrailer(key: string, bytes: Buffer, packSize: number): PackTrailer {
  const at = packSize - TRAILER.size;
  if (bytes.length !== TRAILER.size)
    throw new CorruptObjectError(key, `truncated trailer (${bytes.length} of ${TRAILER.size} bytes)`, at);
  const trailer = TRAILER_LAYOUT.decode(bytes);
  if (!trailer.magic.equals(PACK_END_MAGIC)) {
    throw new CorruptObjectError(key, "bad trailer magic (truncated or not a pack)", at + TRAILER.magic);
  }
  const { indexOffset, frameCount, entryCount } = trailer;
  if (entryCount > MAX_PACK_ENTRIES)
    throw new CorruptObjectError(key, `entry count ${entryCount} exceeds ${MAX_PACK_ENTRIES}`, at + TRAILER.entryCount);
  if (frameCount > entryCount)
    throw new CorruptObjectError(
      key,
      `frame count ${frameCount} exceeds entry count ${entryCount}`,
      at + TRAILER.frameCount,
    );
  const indexLength = frameCount * FRAME_RECORD.size + entryCount * ENTRY_RECORD.size;
  // The index must sit exactly between the frames and the trailer: a count
  // that does not match the bytes actually present is refused here, before
  // the index is read or anything is sized by it.
  if (indexOffset < HEADER.size || indexOffset + indexLength !== at) {
    throw new CorruptObjectError(
      key,
      `index of ${frameCount} frames and ${entryCount} entries at ${indexOffset} does not end at the trailer (${at})`,
      at + TRAILER.indexOffset,
    );
  }
  return {
    indexOffset,
    frameCount,
    entryCount,
    indexChecksum: Buffer.from(trailer.indexChecksum),
  };
}

/** Checks and decodes the index (its bytes come from the trailer's indexOffset). */
export function parseIndex(
  key: string,
  header: PackHeader,
  trailer: PackTrailer,
  index: Buffer,
): { frames: FrameRecord[]; entries: EntryRecord[] } {
  const expectedLength = trailer.frameCount * FRAME_RECORD.size + trailer.entryCount * ENTRY_RECORD.size;
  if (index.length !== expectedLength)
    throw new CorruptObjectError(
      key,
      `truncated index (${index.length} of ${expectedLength} bytes)`,
      trailer.indexOffset,
    );
  if (!createHash("sha256").update(index).digest().equals(trailer.indexChecksum)) {
    throw new CorruptObjectError(key, "index checksum mismatch", trailer.indexOffset);
  }
  const frames: FrameRecord[] = [];
  let expectedOffset = HEADER.size;
  for (let i = 0; i < trailer.frameCount; i++) {
    const at = i * FRAME_RECORD.size;
    const { offset, storedLength, rawLength } = FRAME_RECORD_LAYOUT.decode(index, at);
    const where = trailer.indexOffset + at;
    if (offset !== expectedOffset)
      throw new CorruptObjectError(key, `frame ${i} starts at ${offset}, expected ${expectedOffset}`, where);
    if (rawLength > MAX_FRAME_RAW_BYTES)
      throw new CorruptObjectError(key, `frame ${i} claims ${rawLength} raw bytes (max ${MAX_FRAME_RAW_BYTES})`, where);
    if (header.compression === "none" && storedLength !== rawLength) {
      throw new CorruptObjectError(key, `uncompressed frame ${i} stores ${storedLength} bytes for ${rawLength}`, where);
    }
    frames.push({ offset, storedLength, rawLength });
    expectedOffset += storedLength;
  }
  if (expectedOffset !== trailer.indexOffset) {
    throw new CorruptObjectError(
      key,
      `frames end at ${expectedOffset}, index starts at ${trailer.indexOffset}`,
      trailer.indexOffset,
    );
  }

  const entries: EntryRecord[] = [];
  const seen = new Set<string>();
  let frame = 0;
  let offsetInFrameExpected = 0;
  const base = trailer.frameCount * FRAME_RECORD.size;
  for (let i = 0; i < trailer.entryCount; i++) {
    const at = base + i * ENTRY_RECORD.size;
    const where = trailer.indexOffset + at;
    const record = ENTRY_RECORD_LAYOUT.decode(index, at);
    const id = record.id.toString("hex");
    const { frame: entryFrame, offsetInFrame, length } = record;
    if (record.reserved !== 0) throw new CorruptObjectError(key, `entry ${i}: reserved field is not zero`, where);
    // Entries tile their frames in order: either continue this frame or start the next one.
    const current = frames[frame];
    if (current !== undefined && offsetInFrameExpected === current.rawLength && entryFrame === frame + 1) {
      frame++;
      offsetInFrameExpected = 0;
    }
    const target = frames[frame];
    if (
      target === undefined ||
      entryFrame !== frame ||
      offsetInFrame !== offsetInFrameExpected ||
      offsetInFrame + length > target.rawLength
    ) {
      throw new CorruptObjectError(
        key,
        `entry ${i} (frame ${entryFrame}, offset ${offsetInFrame}, length ${length}) is out of place`,
        where,
      );
    }
    if (seen.has(id)) throw new CorruptObjectError(key, `entry ${i}: id ${id} appears twice`, where);
    seen.add(id);
    entries.push({ id, frame: entryFrame, offsetInFrame, length });
    offsetInFrameExpected += length;
  }
  const last = frames[frame];
  if (
    trailer.frameCount > 0 &&
    (frame !== trailer.frameCount - 1 || last === undefined || offsetInFrameExpected !== last.rawLength)
  ) {
    throw new CorruptObjectError(key, "entries do not cover every frame exactly", trailer.indexOffset + base);
  }
  return { frames, entries };
}

/**
 * The migration wire format, declared once: the stream header, the frame
 * header, the frame types and the compression codes. Encoder and decoder both
 * read these tables; nothing else knows a byte offset.
 *
 * A connection carries one stream in each direction. Each stream starts with
 * a stream header, then frames follow until the connection closes.
 *
 * Stream header (16 bytes, then `headerLength - 16` bytes of extension that a
 * reader of this version skips):
 *   0  magic        "XFMW"
 *   4  version      u16 (1)
 *   6  byte order   u16 0x0102 as written; a reader that sees 0x0201 knows the
 *                   writer used the other order and refuses
 *   8  headerLength u16, >= 16
 *  10  flags        u16 (STREAM_FLAGS); bits this reader does not know are ignored
 *  12  maxFrame     u32, the largest raw payload the writer will send
 *
 * Frame header (24 bytes), then `storedLength` payload bytes:
 *   0  type          u8 (FRAME_TYPES)
 *   1  compression   u8 (COMPRESSION_CODES), how this frame's payload is stored
 *   2  flags         u16, 0 in version 1
 *   4  seq           u32, 0 for the first frame, +1 per frame
 *   8  rawLength     u32, payload length once decompressed
 *  12  storedLength  u32, payload length on the wire
 *  16  checksum      8 bytes: BLAKE3(header bytes 0..16 || BLAKE3(stored payload)), truncated
 *
 * All integers are little-endian: the byte order field states it once.
 */

import { defineLayout, field } from "@xenfleet/core";
import type { Compression } from "@xenfleet/store";

export const MAGIC = Buffer.from("XFMW", "latin1");
export const WIRE_VERSION = 1;
export const BYTE_ORDER_MARK = 0x0102;

export const STREAM_HEADER = defineLayout("stream header", {
  size: 16,
  byteOrder: "little",
  fields: {
    magic: field.bytes(0, 4),
    version: field.u16(4),
    byteOrderMark: field.u16(6),
    headerLength: field.u16(8),
    flags: field.u16(10),
    maxFrame: field.u32(12),
  },
});
export const FRAME_HEADER = defineLayout("frame header", {
  size: 24,
  byteOrder: "little",
  fields: {
    type: field.u8(0),
    compression: field.u8(1),
    flags: field.u16(2),
    seq: field.u32(4),
    rawLength: field.u32(8),
    storedLength: field.u32(12),
    checksum: field.bytes(16, 8),
  },
});
export const STREAM_HEADER_SIZE = STREAM_HEADER.size;
export const FRAME_HEADER_SIZE = FRAME_HEADER.size;
export const CHECKSUM_SIZE = FRAME_HEADER.fields.checksum.length;
/** The checksum covers the frame header's bytes before it. */
export const CHECKSUMMED_HEADER_BYTES = FRAME_HEADER.offsets.checksum;
/** A header extension longer than this is refused rather than buffered. */
export const MAX_HEADER_LENGTH = 4096;
/** Default largest raw payload per frame. */
export const DEFAULT_MAX_FRAME = 1024 * 1024;
/** No writer may declare frames larger than this; a hostile length is refused before allocation. */
export const MAX_FRAME_LIMIT = 16 * 1024 * 1024;
/** Control frames carry small JSON documents. */
export const MAX_CONTROL_LENGTH = 4096;

/**
 * Stream header flags: what the writer takes part in. `acks`: flow control.
 * A receiver with it sends `ack` frames as its domain builder takes the
 * data; a sender with it keeps at most a window of unacknowledged data on the
 * wire. Both sides must set it for it to apply, so a peer that predates it
 * neither sends nor receives an ack frame.
 */
export const STREAM_FLAGS = { acks: 0x0001 } as const;

/**
 * Per-frame compression: each frame names how its payload is stored, by the
 * wire's own codes (packs number the same algorithms differently). The
 * algorithms are the store's codec's.
 */
export const COMPRESSION_CODES: Readonly<Record<Compression, number>> = { none: 0, lz4: 1, zstd: 2 };
const COMPRESSION_NAMES: readonly Compression[] = ["none", "lz4", "zstd"];

export function compressionName(code: number): Compression | undefined {
  return COMPRESSION_NAMES[code];
}

/** zstd level of data frames: the link is the bottleneck only when it is slow; a fast level keeps the CPU off the critical path. */
export const WIRE_ZSTD_LEVEL = 1;

/**
 * Frame types. `from` says which side sends it; `control` frames carry JSON
 * (at most MAX_CONTROL_LENGTH bytes, never compressed), `data` frames carry
 * a slice of the domain's save image.
 */
export const FRAME_TYPES = {
  hello: { code: 1, from: "sender", control: true },
  data: { code: 2, from: "sender", control: false },
  end: { code: 3, from: "sender", control: true },
  ready: { code: 4, from: "receiver", control: true },
  commit: { code: 5, from: "sender", control: true },
  done: { code: 6, from: "receiver", control: true },
  abort: { code: 7, from: "either", control: true },
  /** Receiver, under flow control: `{ rawBytes }`, the data bytes its builder has taken so far. */
  ack: { code: 8, from: "receiver", control: true },
} as const;
export type FrameType = keyof typeof FRAME_TYPES;

const BY_CODE = new Map<number, FrameType>(
  (Object.keys(FRAME_TYPES) as FrameType[]).map((name) => [FRAME_TYPES[name].code, name]),
);

export function frameTypeOf(code: number): FrameType | undefined {
  return BY_CODE.get(code);
}

/** One decoded frame: its payload is always the raw (decompressed) bytes. */
export interface Frame {
  type: FrameType;
  seq: number;
  compression: Compression;
  /** Bytes on the wire for this frame, header included. */
  wireBytes: number;
  payload: Buffer;
}

export interface StreamHeader {
  version: number;
  flags: number;
  maxFrame: number;
}

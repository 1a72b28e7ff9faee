/**
 * Writes the migration wire format (see format.ts): one stream header, then
 * frames with increasing sequence numbers. Returns buffers rather than
 * concatenating, so a 1 MiB payload is never copied.
 */
import { frameChecksum } from "./checksum.js";
import { type Compression, compressFrame } from "@xenfleet/store";
import {
  BYTE_ORDER_MARK,
  COMPRESSION_CODES,
  DEFAULT_MAX_FRAME,
  FRAME_HEADER,
  FRAME_TYPES,
  type FrameType,
  MAGIC,
  MAX_CONTROL_LENGTH,
  MAX_FRAME_LIMIT,
  STREAM_HEADER,
  WIRE_VERSION,
  WIRE_ZSTD_LEVEL,
} from "./format.js";

export function encodeStreamHeader(maxFrame = DEFAULT_MAX_FRAME, flags = 0): Buffer {
  if (!Number.isInteger(maxFrame) || maxFrame < 1 || maxFrame > MAX_FRAME_LIMIT)
    throw new RangeError(`maxFrame out of range: ${maxFrame}`);
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff) throw new RangeError(`flags out of range: ${flags}`);
  return STREAM_HEADER.encode({
    magic: MAGIC,
    version: WIRE_VERSION,
    byteOrderMark: BYTE_ORDER_MARK,
    headerLength: STREAM_HEADER.size,
    flags,
    maxFrame,
  });
}

export interface EncodedFrame {
  buffers: Buffer[];
  /** Header plus stored payload. */
  wireBytes: number;
  rawBytes: number;
  compression: Compression;
}

export class FrameEncoder {
  private seq = 0;

  constructor(
    readonly maxFrame = DEFAULT_MAX_FRAME,
    /** STREAM_FLAGS this writer states in its header. */
    readonly flags = 0,
  ) {}

  /** The stream header; write it once before any frame. */
  header(): Buffer {
    return encodeStreamHeader(this.maxFrame, this.flags);
  }

  /** A data frame; compressed with `compression` when that makes it smaller, else sent as "none". */
  data(payload: Buffer, compression: Compression = "none"): EncodedFrame {
    if (payload.length > this.maxFrame)
      throw new RangeError(`data frame of ${payload.length} bytes exceeds maxFrame ${this.maxFrame}`);
    const packed = compression === "none" ? undefined : compressFrame(compression, payload, WIRE_ZSTD_LEVEL);
    return packed !== undefined && packed.length < payload.length
      ? this.frame("data", payload.length, packed, compression)
      : this.frame("data", payload.length, payload, "none");
  }

  /** A control frame carrying a JSON document. */
  control(type: Exclude<FrameType, "data">, body: object): EncodedFrame {
    const json = Buffer.from(JSON.stringify(body), "utf8");
    if (json.length > MAX_CONTROL_LENGTH)
      throw new RangeError(`${type} frame body of ${json.length} bytes is too large`);
    return this.frame(type, json.length, json, "none");
  }

  private frame(type: FrameType, rawLength: number, stored: Buffer, compression: Compression): EncodedFrame {
    const h = FRAME_HEADER.encode({
      type: FRAME_TYPES[type].code,
      compression: COMPRESSION_CODES[compression],
      flags: 0,
      seq: this.seq,
      rawLength,
      storedLength: stored.length,
    });
    h.set(frameChecksum(h, stored), FRAME_HEADER.offsets.checksum);
    this.seq = (this.seq + 1) >>> 0;
    return { buffers: [h, stored], wireBytes: h.length + stored.length, rawBytes: rawLength, compression };
  }
}

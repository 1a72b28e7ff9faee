/**
 * Reads the migration wire format as an explicit state machine that consumes
 * exact byte counts: stream header, header extension, then frame header and
 * payload in turn. Input may arrive split anywhere. Every length is checked
 * against its bound before any buffer of that size exists, and every frame's
 * checksum before its payload is decompressed or handed on.
 */
import { WireFormatError } from "../errors.js";
import { frameChecksum } from "./checksum.js";
import type { LayoutValues } from "@xenfleet/core";
import { type Compression, decompressFrame } from "@xenfleet/store";
import {
  BYTE_ORDER_MARK,
  compressionName,
  FRAME_HEADER,
  FRAME_HEADER_SIZE,
  FRAME_TYPES,
  type Frame,
  type FrameType,
  frameTypeOf,
  MAGIC,
  MAX_CONTROL_LENGTH,
  MAX_FRAME_LIMIT,
  MAX_HEADER_LENGTH,
  STREAM_HEADER,
  STREAM_HEADER_SIZE,
  type StreamHeader,
  WIRE_VERSION,
} from "./format.js";

/** A frame header that passed every check a header can pass on its own. */
interface CheckedFrameHeader {
  /** Its bytes, which the checksum covers. */
  readonly bytes: Buffer;
  readonly fields: LayoutValues<typeof FRAME_HEADER.fields>;
  readonly type: FrameType;
  readonly compression: Compression;
}

type State =
  | { kind: "stream-header" }
  | { kind: "header-extension"; remaining: number }
  | { kind: "frame-header" }
  | { kind: "payload"; header: CheckedFrameHeader }
  | { kind: "failed"; error: WireFormatError };

export class FrameDecoder {
  private state: State = { kind: "stream-header" };
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes consumed so far: the offset named in errors. */
  private offset = 0;
  private nextSeq = 0;
  private streamHeader: StreamHeader | undefined;
  /**
   * False until the peer is let in (admitData): only control frames, of at
   * most MAX_CONTROL_LENGTH bytes, are read; a data frame header is refused
   * before any of its payload is buffered.
   */
  private dataAllowed: boolean;

  constructor(options: { controlOnly?: boolean } = {}) {
    this.dataAllowed = options.controlOnly !== true;
  }

  /** From now on data frames are read too (the peer has been authenticated). */
  admitData(): void {
    this.dataAllowed = true;
  }

  get header(): StreamHeader | undefined {
    return this.streamHeader;
  }

  /** Feeds bytes; returns the frames they completed. Throws WireFormatError, and keeps throwing it after. */
  push(chunk: Uint8Array): Frame[] {
    if (this.state.kind === "failed") throw this.state.error;
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    try {
      for (;;) {
        const frame = this.step();
        if (frame === null) break;
        if (frame !== undefined) frames.push(frame);
      }
    } catch (err) {
      if (err instanceof WireFormatError) this.state = { kind: "failed", error: err };
      throw err;
    }
    return frames;
  }

  /** The input ended: an error unless it ended between frames. */
  end(): void {
    if (this.state.kind === "failed") throw this.state.error;
    if (this.state.kind !== "frame-header" || this.buffered > 0) {
      const error = new WireFormatError("truncated", this.offset + this.buffered, `stream ended in ${this.state.kind}`);
      this.state = { kind: "failed", error };
      throw error;
    }
  }

  /** One transition: a frame, undefined (progress, no frame), or null (needs more input). */
  private step(): Frame | undefined | null {
    const s = this.state;
    switch (s.kind) {
      case "stream-header": {
        const b = this.take(STREAM_HEADER_SIZE);
        if (!b) return null;
        this.readStreamHeader(b);
        return undefined;
      }
      case "header-extension": {
        // Extensions of later minor revisions are skipped without being kept.
        const n = Math.min(s.remaining, this.buffered);
        if (n === 0 && s.remaining > 0) return null;
        this.skip(n);
        const remaining = s.remaining - n;
        this.state = remaining > 0 ? { kind: "header-extension", remaining } : { kind: "frame-header" };
        return undefined;
      }
      case "frame-header": {
        const at = this.offset;
        const h = this.take(FRAME_HEADER_SIZE);
        if (!h) return null;
        this.state = { kind: "payload", header: this.checkFrameHeader(h, at) };
        return undefined;
      }
      case "payload": {
        const at = this.offset - FRAME_HEADER_SIZE;
        const stored = this.take(s.header.fields.storedLength);
        if (!stored) return null;
        this.state = { kind: "frame-header" };
        return this.finishFrame(s.header, stored, at);
      }
      case "failed":
        throw s.error;
    }
  }

  private readStreamHeader(b: Buffer): void {
    const at = this.offset - STREAM_HEADER_SIZE;
    const { offsets } = STREAM_HEADER;
    const h = STREAM_HEADER.decode(b);
    if (!h.magic.equals(MAGIC)) {
      throw new WireFormatError("bad-magic", at, `expected "XFMW", got ${JSON.stringify(h.magic.toString("latin1"))}`);
    }
    if (h.byteOrderMark !== BYTE_ORDER_MARK) {
      throw new WireFormatError(
        "bad-byte-order",
        at + offsets.byteOrderMark,
        `byte order mark 0x${h.byteOrderMark.toString(16)}: written big-endian, this reader speaks little-endian`,
      );
    }
    if (h.version !== WIRE_VERSION) {
      throw new WireFormatError(
        "unsupported-version",
        at + offsets.version,
        `version ${h.version}; this reader speaks version ${WIRE_VERSION}`,
      );
    }
    if (h.headerLength < STREAM_HEADER_SIZE || h.headerLength > MAX_HEADER_LENGTH) {
      throw new WireFormatError(
        "bad-header",
        at + offsets.headerLength,
        `header length ${h.headerLength} outside ${STREAM_HEADER_SIZE}..${MAX_HEADER_LENGTH}`,
      );
    }
    if (h.maxFrame < 1 || h.maxFrame > MAX_FRAME_LIMIT) {
      throw new WireFormatError(
        "oversize",
        at + offsets.maxFrame,
        `declared frame size ${h.maxFrame} outside 1..${MAX_FRAME_LIMIT}`,
      );
    }
    this.streamHeader = { version: h.version, flags: h.flags, maxFrame: h.maxFrame };
    const extra = h.headerLength - STREAM_HEADER_SIZE;
    this.state = extra > 0 ? { kind: "header-extension", remaining: extra } : { kind: "frame-header" };
  }

  /** Validates everything a header can say on its own. */
  private checkFrameHeader(bytes: Buffer, at: number): CheckedFrameHeader {
    const { offsets } = FRAME_HEADER;
    const fields = FRAME_HEADER.decode(bytes);
    const type = frameTypeOf(fields.type);
    if (!type) throw new WireFormatError("unknown-frame-type", at + offsets.type, `frame type ${fields.type}`);
    const compression = compressionName(fields.compression);
    if (!compression)
      throw new WireFormatError(
        "unknown-compression",
        at + offsets.compression,
        `compression code ${fields.compression}`,
      );
    if (fields.flags !== 0)
      throw new WireFormatError(
        "bad-header",
        at + offsets.flags,
        `frame flags 0x${fields.flags.toString(16)} unknown in version 1`,
      );
    if (!this.dataAllowed && !FRAME_TYPES[type].control)
      throw new WireFormatError("unexpected-frame", at + offsets.type, `${type} frame before the peer was let in`);
    const { seq, rawLength: raw, storedLength: stored } = fields;
    if (seq !== this.nextSeq)
      throw new WireFormatError("sequence", at + offsets.seq, `frame ${seq} where ${this.nextSeq} was due`);
    const limit = FRAME_TYPES[type].control ? MAX_CONTROL_LENGTH : (this.streamHeader?.maxFrame ?? 0);
    if (raw > limit)
      throw new WireFormatError("oversize", at + offsets.rawLength, `${type} frame of ${raw} bytes exceeds ${limit}`);
    if (FRAME_TYPES[type].control && compression !== "none") {
      throw new WireFormatError("bad-header", at + offsets.compression, `${type} frames are never compressed`);
    }
    // A compressed frame is only sent when it is smaller, so stored <= raw always holds.
    if (compression === "none" ? stored !== raw : stored > raw || stored === 0) {
      throw new WireFormatError(
        "oversize",
        at + offsets.storedLength,
        `stored length ${stored} impossible for raw length ${raw} (${compression})`,
      );
    }
    return { bytes, fields, type, compression };
  }

  private finishFrame(header: CheckedFrameHeader, stored: Buffer, at: number): Frame {
    const { type, compression, fields } = header;
    if (!frameChecksum(header.bytes, stored).equals(fields.checksum)) {
      throw new WireFormatError(
        "checksum",
        at + FRAME_HEADER.offsets.checksum,
        `frame ${fields.seq} checksum mismatch`,
      );
    }
    // A plain payload is handed on as read: its length was checked with the header.
    let payload = stored;
    if (compression !== "none")
      try {
        payload = decompressFrame(compression, stored, fields.rawLength);
      } catch (err) {
        throw new WireFormatError(
          "decompress",
          at + FRAME_HEADER_SIZE,
          `${compression} payload of frame ${fields.seq}: ${(err as Error).message}`,
        );
      }
    const seq = this.nextSeq;
    this.nextSeq = (this.nextSeq + 1) >>> 0;
    return { type, seq, compression, wireBytes: FRAME_HEADER_SIZE + stored.length, payload };
  }

  /** Exactly n bytes, or undefined (nothing consumed) when fewer are buffered. */
  private take(n: number): Buffer | undefined {
    if (this.buffered < n) return undefined;
    let out: Buffer;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    this.offset += n;
    return out;
  }

  private skip(n: number): void {
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, left);
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
      left -= k;
    }
    this.buffered -= n;
    this.offset += n;
  }
}

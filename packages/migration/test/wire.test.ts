import { describe, expect, it } from "vitest";
import { WireFormatError } from "../src/errors.js";
import { FrameDecoder } from "../src/wire/decoder.js";
import { FrameEncoder } from "../src/wire/encoder.js";
import {
  FRAME_HEADER_SIZE,
  type Frame,
  MAX_FRAME_LIMIT,
  STREAM_FLAGS,
  STREAM_HEADER_SIZE,
} from "../src/wire/format.js";

function sample(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed;
  // Half repetitive, half noise: compressible but not trivially so.
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = i % 512 < 256 ? i & 7 : x >>> 24;
  }
  return b;
}

function encodeAll(): { bytes: Buffer; payloads: Buffer[] } {
  const enc = new FrameEncoder(16 * 1024);
  const payloads = [sample(1000), sample(8 * 1024, 2), Buffer.alloc(4096), sample(3, 3)];
  const parts: Buffer[] = [enc.header(), ...enc.control("hello", { token: "t" }).buffers];
  parts.push(...enc.data(payloads[0]!, "none").buffers);
  parts.push(...enc.data(payloads[1]!, "lz4").buffers);
  parts.push(...enc.data(payloads[2]!, "zstd").buffers);
  parts.push(...enc.data(payloads[3]!, "zstd").buffers);
  parts.push(...enc.control("end", { rawBytes: 1 }).buffers);
  return { bytes: Buffer.concat(parts), payloads };
}

function decodeAll(bytes: Buffer, splits: number[] = []): Frame[] {
  const dec = new FrameDecoder();
  const out: Frame[] = [];
  let at = 0;
  for (const s of [...splits, bytes.length]) {
    out.push(...dec.push(bytes.subarray(at, s)));
    at = s;
  }
  dec.end();
  return out;
}

function refusal(fn: () => unknown): WireFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WireFormatError);
    return err as WireFormatError;
  }
  throw new Error("expected a WireFormatError");
}

describe("migration wire framing", () => {
  it("round-trips control and data frames with every compression", () => {
    const { bytes, payloads } = encodeAll();
    const frames = decodeAll(bytes);
    expect(frames.map((f) => f.type)).toEqual(["hello", "data", "data", "data", "data", "end"]);
    expect(frames.map((f) => f.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(frames.slice(1, 5).map((f) => f.payload)).toEqual(payloads);
    // Compressible frames travel compressed and say so; an incompressible one falls back to none.
    expect(frames[2]!.compression).toBe("lz4");
    expect(frames[3]!.compression).toBe("zstd");
    expect(frames[4]!.compression).toBe("none");
    expect(JSON.parse(frames[0]!.payload.toString())).toEqual({ token: "t" });
  });

  it("decodes the same frames whatever the input is split at", () => {
    const { bytes } = encodeAll();
    const whole = decodeAll(bytes);
    for (let i = 0; i <= bytes.length; i += 101) {
      const parts = decodeAll(bytes, [i]);
      expect(parts.map((f) => f.payload)).toEqual(whole.map((f) => f.payload));
    }
    const oneByOne = decodeAll(
      bytes,
      Array.from({ length: bytes.length }, (_, i) => i),
    );
    expect(oneByOne.length).toBe(whole.length);
  });

  it("refuses a foreign stream by its magic", () => {
    const { bytes } = encodeAll();
    const bad = Buffer.from(bytes);
    bad.write("XENF", 0, "latin1");
    expect(refusal(() => decodeAll(bad)).reason).toBe("bad-magic");
  });

  it("refuses an unknown version and the other byte order", () => {
    const { bytes } = encodeAll();
    const v2 = Buffer.from(bytes);
    v2.writeUInt16LE(2, 4);
    const e = refusal(() => decodeAll(v2));
    expect(e.reason).toBe("unsupported-version");
    expect(e.offset).toBe(4);
    const be = Buffer.from(bytes);
    be.writeUInt16BE(0x0102, 6);
    expect(refusal(() => decodeAll(be)).reason).toBe("bad-byte-order");
  });

  it("skips a longer header written by a later revision", () => {
    const { bytes } = encodeAll();
    const ext = Buffer.concat([
      bytes.subarray(0, STREAM_HEADER_SIZE),
      Buffer.alloc(8, 0xee),
      bytes.subarray(STREAM_HEADER_SIZE),
    ]);
    ext.writeUInt16LE(STREAM_HEADER_SIZE + 8, 8);
    expect(decodeAll(ext, [5, 20]).length).toBe(6);
  });

  it("detects a flipped payload bit by checksum", () => {
    const { bytes } = encodeAll();
    const bad = Buffer.from(bytes);
    const at = STREAM_HEADER_SIZE + FRAME_HEADER_SIZE + 11 + FRAME_HEADER_SIZE + 500;
    bad[at] = bad[at]! ^ 0x10;
    expect(refusal(() => decodeAll(bad)).reason).toBe("checksum");
  });

  it("refuses a hostile length before allocating it", () => {
    const enc = new FrameEncoder(1024);
    const bytes = Buffer.concat([enc.header(), ...enc.data(Buffer.alloc(100, 1)).buffers]);
    const huge = Buffer.from(bytes);
    huge.writeUInt32LE(0xffffffff, STREAM_HEADER_SIZE + 8);
    huge.writeUInt32LE(0xffffffff, STREAM_HEADER_SIZE + 12);
    const dec = new FrameDecoder();
    // Only the header is pushed: the error comes before any payload could be buffered.
    const e = refusal(() => dec.push(huge.subarray(0, STREAM_HEADER_SIZE + FRAME_HEADER_SIZE)));
    expect(e.reason).toBe("oversize");
    const hdr = Buffer.from(bytes.subarray(0, STREAM_HEADER_SIZE));
    hdr.writeUInt32LE(MAX_FRAME_LIMIT + 1, 12);
    expect(refusal(() => new FrameDecoder().push(hdr)).reason).toBe("oversize");
  });

  it("refuses a compressed frame whose stored size exceeds its raw size", () => {
    const enc = new FrameEncoder(1024);
    const bytes = Buffer.concat([enc.header(), ...enc.data(Buffer.alloc(1000), "lz4").buffers]);
    const bad = Buffer.from(bytes);
    bad.writeUInt32LE(10, STREAM_HEADER_SIZE + 8); // raw 10 < stored
    expect(refusal(() => decodeAll(bad)).reason).toBe("oversize");
  });

  it("refuses unknown frame types, unknown compression, gaps in sequence and truncation", () => {
    const enc = new FrameEncoder(1024);
    const bytes = Buffer.concat([
      enc.header(),
      ...enc.data(Buffer.alloc(100, 1)).buffers,
      ...enc.data(Buffer.alloc(100, 2)).buffers,
    ]);
    const f0 = STREAM_HEADER_SIZE;
    const type = Buffer.from(bytes);
    type[f0] = 99;
    expect(refusal(() => decodeAll(type)).reason).toBe("unknown-frame-type");
    const comp = Buffer.from(bytes);
    comp[f0 + 1] = 9;
    expect(refusal(() => decodeAll(comp)).reason).toBe("unknown-compression");
    const seq = Buffer.from(bytes);
    seq.writeUInt32LE(5, f0 + 4);
    expect(refusal(() => decodeAll(seq)).reason).toBe("sequence");
    expect(refusal(() => decodeAll(bytes.subarray(0, bytes.length - 1))).reason).toBe("truncated");
  });

  it("states its flags in the stream header and decodes ack frames", () => {
    const enc = new FrameEncoder(1024, STREAM_FLAGS.acks);
    const bytes = Buffer.concat([enc.header(), ...enc.control("ack", { rawBytes: 4096 }).buffers]);
    const dec = new FrameDecoder();
    const frames = dec.push(bytes);
    expect(dec.header).toEqual({ version: 1, flags: STREAM_FLAGS.acks, maxFrame: 1024 });
    expect(frames.map((f) => [f.type, JSON.parse(f.payload.toString())])).toEqual([["ack", { rawBytes: 4096 }]]);
    // A writer that states no flags (one that predates them) reads as 0.
    const plain = new FrameDecoder();
    plain.push(new FrameEncoder(1024).header());
    expect(plain.header?.flags).toBe(0);
  });

  it("keeps refusing after an error", () => {
    const dec = new FrameDecoder();
    expect(() => dec.push(Buffer.from("garbage-garbage-"))).toThrow(WireFormatError);
    expect(() => dec.push(new FrameEncoder().header())).toThrow(WireFormatError);
  });
});

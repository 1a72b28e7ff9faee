import { describe, expect, it } from "vitest";
import { FrameEncoder } from "../src/wire/encoder.js";
import { FRAME_HEADER, STREAM_FLAGS, STREAM_HEADER } from "../src/wire/format.js";

describe("size table", () => {
  it("pins the stream header and the frame header", () => {
    expect(STREAM_HEADER.offsets).toEqual({
      size: 16,
      magic: 0,
      version: 4,
      byteOrderMark: 6,
      headerLength: 8,
      flags: 10,
      maxFrame: 12,
    });
    expect(FRAME_HEADER.offsets).toEqual({
      size: 24,
      type: 0,
      compression: 1,
      flags: 2,
      seq: 4,
      rawLength: 8,
      storedLength: 12,
      checksum: 16,
    });
  });
});

describe("the bytes written", () => {
  it("lay out the stream header and a frame header as documented, little-endian", () => {
    const encoder = new FrameEncoder(16 * 1024, STREAM_FLAGS.acks);
    expect(encoder.header().toString("hex")).toBe("58464d57" + "0100" + "0201" + "1000" + "0100" + "00400000");
    const [header, body] = encoder.control("hello", { token: "t" }).buffers;
    expect(body!.toString()).toBe('{"token":"t"}');
    expect(header!.toString("hex")).toBe(
      "01" + "00" + "0000" + "00000000" + "0d000000" + "0d000000" + "4f0a584afef75e1f",
    );
  });
});

import { describe, expect, it } from "vitest";
import { packFormat } from "../src/index.js";

const { HEADER_LAYOUT, FRAME_RECORD_LAYOUT, ENTRY_RECORD_LAYOUT, TRAILER_LAYOUT } = packFormat;

describe("size table", () => {
  it("pins every fixed part of a pack", () => {
    const layouts = [HEADER_LAYOUT, FRAME_RECORD_LAYOUT, ENTRY_RECORD_LAYOUT, TRAILER_LAYOUT];
    expect(Object.fromEntries(layouts.map((l) => [l.name, l.size]))).toEqual({
      "pack header": 16,
      "pack frame record": 16,
      "pack entry record": 48,
      "pack trailer": 88,
    });
  });
});

describe("the bytes written", () => {
  it("lay out the header, the index and the trailer as documented, little-endian", () => {
    expect(packFormat.encodeHeader({ compression: "lz4", entryHash: "blake3" }).toString("hex")).toBe(
      "58464c545041434b" + "01" + "01" + "02" + "02" + "00000000",
    );
    const index = packFormat.encodeIndex(
      [{ offset: 16, storedLength: 300, rawLength: 4096 }],
      [{ id: "ab".repeat(32), frame: 1, offsetInFrame: 4096, length: 4095 }],
    );
    expect(index.toString("hex")).toBe(
      "1000000000000000" +
        "2c010000" +
        "00100000" +
        "ab".repeat(32) +
        "01000000" +
        "00100000" +
        "ff0f0000" +
        "00000000",
    );
    const trailer = packFormat.encodeTrailerBody({
      indexOffset: 0x1234,
      frameCount: 2,
      entryCount: 3,
      indexChecksum: Buffer.alloc(32, 0xcd),
    });
    // Everything up to the pack checksum, which the writer appends once it has hashed these bytes.
    expect(trailer.toString("hex")).toBe(
      "3412000000000000" + "02000000" + "03000000" + "cd".repeat(32) + "58464c5450454e44",
    );
  });
});

import { describe, expect, it } from "vitest";
import { manifestFormat, pageListFormat, type Manifest, type Sha256Id } from "../src/index.js";

const { HEADER_LAYOUT, SECTION_HEADER_LAYOUT, IMAGE_LAYOUT, BLOCKS_LAYOUT, BLOCK_ENTRY_LAYOUT, encodeManifest } =
  manifestFormat;
const { BLOCK_HEADER_LAYOUT, encodeBlock, ZERO_SLOT } = pageListFormat;

describe("size table", () => {
  it("pins every header of the manifest and of page list blocks", () => {
    const layouts = [
      HEADER_LAYOUT,
      SECTION_HEADER_LAYOUT,
      IMAGE_LAYOUT,
      BLOCKS_LAYOUT,
      BLOCK_ENTRY_LAYOUT,
      BLOCK_HEADER_LAYOUT,
    ];
    expect(Object.fromEntries(layouts.map((l) => [l.name, l.size]))).toEqual({
      "manifest header": 24,
      "manifest section header": 8,
      "IMAGE section": 120,
      "BLOCKS section header": 8,
      "BLOCKS entry": 40,
      "page list block header": 32,
    });
  });
});

describe("the bytes written", () => {
  const manifest: Manifest = {
    streamBytes: 0x01_0203_0405,
    streamDigest: { kind: "sha256", hex: "11".repeat(32) },
    pageSize: 4096,
    source: { kind: "v2" },
    domainType: "x86-hvm",
    xenVersion: { major: 4, minor: 17 },
    libxcVersion: 3,
    created: new Date(0x01_0203_0405),
    pages: 5,
    zeroPages: 1,
    records: 9,
    parent: null,
    domain: { name: "d" },
    blocks: [{ id: "22".repeat(32) as Sha256Id, pages: 5, rawBytes: 40 }],
  };

  it("lay out the manifest header, the IMAGE section and a BLOCKS entry as documented, little-endian", () => {
    const bytes = encodeManifest(manifest);
    // 24 header + (8 + 120) IMAGE + (8 + 12 + 4 padding) DOMAIN + (8 + 8 + 40) BLOCKS + 32 checksum.
    expect(bytes.length).toBe(0x108);
    expect(bytes.toString("hex", 0, 32)).toBe(
      "58464c54494d4147" + "0100" + "01" + "00" + "03000000" + "0801000000000000" + "01000000" + "78000000",
    );
    expect(bytes.toString("hex", 32, 152)).toBe(
      "0504030201000000" +
        "11".repeat(32) +
        "00100000" +
        "01" +
        "00" +
        "02" +
        "00" +
        "0400" +
        "1100" +
        "03000000" +
        "0504030201000000" +
        "0500000000000000" +
        "0100000000000000" +
        "00".repeat(32) +
        "0900000000000000",
    );
    expect(bytes.toString("hex", 176, 232)).toBe(
      "03000000" + "30000000" + "01000000" + "00000000" + "22".repeat(32) + "05000000" + "28000000",
    );
  });

  it("lay out a page list block header, uncompressed and compressed", () => {
    const block = {
      packs: ["33".repeat(32) as Sha256Id, "44".repeat(32) as Sha256Id],
      pieces: Uint32Array.from([16, 3, 5, 1]),
      digests: Buffer.alloc(4 * 32, 9),
      slots: Uint16Array.from([0, 1, ZERO_SLOT, 0]),
      raw: Buffer.alloc(21, 3),
    };
    const counts = "02000000" + "02000000" + "04000000" + "15000000" + "00000000";
    expect(encodeBlock(block).toString("hex", 0, 32)).toBe("58464c54504c5354" + "01" + "01" + "00" + "00" + counts);
    expect(encodeBlock(block, "lz4").toString("hex", 0, 32)).toBe(
      "58464c54504c5354" + "02" + "01" + "02" + "00" + counts,
    );
  });
});

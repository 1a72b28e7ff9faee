import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CorruptObjectError } from "@xenfleet/store";
import { describe, expect, it } from "vitest";
import {
  DigestTable,
  UnsupportedFormatError,
  manifestFormat,
  pageListFormat,
  type Manifest,
  type Sha256Id,
} from "../src/index.js";

const {
  HEADER,
  SECTION_HEADER,
  SECTION,
  TRAILER,
  IMAGE,
  BLOCK_ENTRY,
  encodeManifest,
  decodeManifest,
  OPTIONAL_SECTION_BIT,
} = manifestFormat;

const id = (n: number) => createHash("sha256").update(String(n)).digest("hex") as Sha256Id;

const sample: Manifest = {
  streamBytes: 123_456_789,
  streamDigest: { kind: "sha256", hex: id(1) },
  pageSize: 4096,
  source: { kind: "legacy", width: 32 },
  domainType: "x86-pv",
  xenVersion: { major: 4, minor: 17 },
  libxcVersion: 3,
  created: new Date("2025-03-04T05:06:07.890Z"),
  pages: 30_000,
  zeroPages: 1_875,
  records: 77,
  parent: id(2),
  domain: { name: "web-1", uuid: "6f1e2d3c-0000-4000-8000-000000000042" },
  blocks: [
    { id: id(3), pages: 1024, rawBytes: 8224 },
    { id: id(4), pages: 17, rawBytes: 99 },
  ],
};

/** The sample's manifest with one more section of `type` holding `text`, appended after the others. */
function withBody(type: number, text: string): Buffer {
  const bytes = encodeManifest(sample);
  const body = bytes.subarray(0, bytes.length - 32);
  const content = Buffer.from(text, "utf8");
  const extra = Buffer.alloc(8 + content.length + ((8 - (content.length % 8)) % 8));
  extra.writeUInt32LE(type >>> 0, 0);
  extra.writeUInt32LE(content.length, 4);
  content.copy(extra, 8);
  const out = Buffer.concat([body, extra]);
  out.writeUInt32LE(4, HEADER.sectionCount);
  out.writeBigUInt64LE(BigInt(out.length + 32), HEADER.totalLength);
  return Buffer.concat([out, createHash("sha256").update(out).digest()]);
}

describe("manifest format", () => {
  it("pins the header, section and record layouts", () => {
    expect(HEADER).toEqual({
      size: 24,
      magic: 0,
      version: 8,
      byteOrder: 10,
      flags: 11,
      sectionCount: 12,
      totalLength: 16,
    });
    expect(SECTION_HEADER).toEqual({ size: 8, type: 0, length: 4 });
    expect(TRAILER.size).toBe(32);
    expect(IMAGE.size).toBe(120);
    expect(IMAGE.records + 8).toBe(IMAGE.size);
    expect(BLOCK_ENTRY).toEqual({ size: 40, id: 0, pages: 32, rawBytes: 36 });
  });

  it("writes the header as documented: magic, version, byte order stated once, section count, length, checksum trailer", () => {
    const bytes = encodeManifest(sample);
    expect(bytes.subarray(0, 8).toString("latin1")).toBe("XFLTIMAG");
    expect(bytes.readUInt16LE(8)).toBe(1);
    expect(bytes.readUInt8(10)).toBe(1);
    expect(bytes.readUInt32LE(12)).toBe(3);
    expect(Number(bytes.readBigUInt64LE(16))).toBe(bytes.length);
    expect(bytes.subarray(bytes.length - 32)).toEqual(
      createHash("sha256")
        .update(bytes.subarray(0, bytes.length - 32))
        .digest(),
    );
    expect(bytes.readUInt32LE(24)).toBe(1); // IMAGE first
    expect(bytes.readUInt32LE(28)).toBe(IMAGE.size);
  });

  it("decodes what it encodes", () => {
    expect(decodeManifest("m", encodeManifest(sample))).toEqual(sample);
    const v2 = {
      ...sample,
      source: { kind: "v2" } as const,
      parent: null,
      xenVersion: null,
      domain: { name: "ünïcode dom" },
    };
    expect(decodeManifest("m", encodeManifest(v2))).toEqual(v2);
  });

  it("skips an unknown optional section and refuses an unknown mandatory one", () => {
    expect(decodeManifest("m", withBody(OPTIONAL_SECTION_BIT | 9, "hello"))).toEqual(sample);
    expect(() => decodeManifest("m", withBody(9, "hello"))).toThrow(UnsupportedFormatError);
  });

  it("reads a manifest written before the ORIGIN section existed, and writes none when nothing is known of it", () => {
    // Written by the encoder of the commit before ORIGIN (the sample above).
    const before = readFileSync(join(import.meta.dirname, "fixtures", "manifest-without-origin.bin"));
    const decoded = decodeManifest("m", before);
    expect(decoded).toEqual(sample);
    for (const field of ["host", "domainName", "labels", "bytesNew"]) expect(decoded).not.toHaveProperty(field);
    expect(encodeManifest(sample).equals(before)).toBe(true);
  });

  it("records host, domain name, labels and new bytes in an optional ORIGIN section after the others", () => {
    const full: Manifest = {
      ...sample,
      domain: { name: sample.domain.uuid!, uuid: sample.domain.uuid! },
      host: "host-3",
      domainName: "web-1",
      labels: ["nightly", "weekly"],
      bytesNew: 4_321_000,
    };
    const bytes = encodeManifest(full);
    expect(decodeManifest("m", bytes)).toEqual(full);
    expect(bytes.readUInt32LE(HEADER.sectionCount)).toBe(4);
    // The last section, just before the trailer: optional, so a reader that predates it skips it.
    const body = Buffer.from(
      JSON.stringify({ host: "host-3", name: "web-1", labels: ["nightly", "weekly"], bytesNew: 4_321_000 }),
    );
    const at = bytes.length - TRAILER.size - body.length - ((8 - (body.length % 8)) % 8) - SECTION_HEADER.size;
    expect(bytes.readUInt32LE(at)).toBe(SECTION.ORIGIN);
    expect((SECTION.ORIGIN & OPTIONAL_SECTION_BIT) >>> 0).toBe(OPTIONAL_SECTION_BIT);
    expect(bytes.subarray(at + SECTION_HEADER.size, at + SECTION_HEADER.size + body.length).equals(body)).toBe(true);
    // One field alone is enough to write the section.
    expect(decodeManifest("m", encodeManifest({ ...sample, labels: [] }))).toEqual({ ...sample, labels: [] });
  });

  it("refuses an ORIGIN section whose fields have the wrong types", () => {
    expect(() => decodeManifest("m", withBody(SECTION.ORIGIN, '{"labels":"nightly"}'))).toThrow(
      /ORIGIN labels are not a list of strings/,
    );
    expect(() => decodeManifest("m", withBody(SECTION.ORIGIN, '{"bytesNew":-1}'))).toThrow(CorruptObjectError);
    expect(() => decodeManifest("m", withBody(SECTION.ORIGIN, "[]"))).toThrow(/not a JSON object/);
    // A field this version does not know is ignored.
    expect(decodeManifest("m", withBody(SECTION.ORIGIN, '{"host":"h","zone":"b"}'))).toEqual({ ...sample, host: "h" });
  });

  it("writes a manifest with the image digest as version 2, naming the digest kind, and one with the stream's SHA-256 as version 1", () => {
    const withImageDigest: Manifest = { ...sample, streamDigest: { kind: "image", hex: id(9) } };
    const bytes = encodeManifest(withImageDigest);
    expect(bytes.readUInt16LE(HEADER.version)).toBe(2);
    const image = HEADER.size + SECTION_HEADER.size;
    expect(bytes.readUInt8(image + IMAGE.digestKind)).toBe(1);
    expect(bytes.toString("hex", image + IMAGE.streamDigest, image + IMAGE.streamDigest + 32)).toBe(id(9));
    expect(decodeManifest("m", bytes)).toEqual(withImageDigest);
    expect(encodeManifest(sample).readUInt16LE(HEADER.version)).toBe(1);
    // A digest kind this code does not know is refused, not checked as another kind.
    const unknown = Buffer.from(bytes.subarray(0, bytes.length - 32));
    unknown.writeUInt8(7, image + IMAGE.digestKind);
    const resealed = Buffer.concat([unknown, createHash("sha256").update(unknown).digest()]);
    expect(() => decodeManifest("m", resealed)).toThrow(/stream digest kind 7/);
    expect(() => decodeManifest("m", resealed)).toThrow(UnsupportedFormatError);
  });

  it("refuses a flipped byte, a truncation, another version or byte order", () => {
    const bytes = encodeManifest(sample);
    const flipped = Buffer.from(bytes);
    flipped[100] = flipped[100]! ^ 1;
    expect(() => decodeManifest("m", flipped)).toThrow(CorruptObjectError);
    expect(() => decodeManifest("m", bytes.subarray(0, bytes.length - 1))).toThrow(CorruptObjectError);
    const v3 = Buffer.from(bytes);
    v3.writeUInt16LE(3, HEADER.version);
    expect(() => decodeManifest("m", v3)).toThrow(/manifest version 3/);
    const be = Buffer.from(bytes);
    be.writeUInt8(2, HEADER.byteOrder);
    expect(() => decodeManifest("m", be)).toThrow(UnsupportedFormatError);
  });
});

describe("page list blocks", () => {
  const { encodeBlock, decodeBlock, BLOCK_HEADER, ZERO_SLOT } = pageListFormat;
  it("pins the header layout and round-trips", () => {
    expect(BLOCK_HEADER.size).toBe(32);
    const digests = Buffer.alloc(3 * 32, 7);
    digests.fill(0, 32, 64);
    const block = {
      packs: [id(5), id(6)],
      pieces: Uint32Array.from([10, 2, 3, 1]),
      digests,
      slots: Uint16Array.from([1, ZERO_SLOT, 0]),
      raw: Buffer.from("0123456789abc"),
    };
    const bytes = encodeBlock(block);
    expect(bytes.subarray(0, 8).toString("latin1")).toBe("XFLTPLST");
    expect((bytes.length - 13) % 8).toBe(0); // raw bytes start 8-aligned
    const back = decodeBlock("b", bytes);
    expect(back.packs).toEqual(block.packs);
    expect([...back.pieces]).toEqual([...block.pieces]);
    expect(Buffer.from(back.digests)).toEqual(digests);
    expect([...back.slots]).toEqual([...block.slots]);
    expect(Buffer.from(back.raw).toString()).toBe("0123456789abc");
  });

  it("round-trips a compressed block (version 2) and refuses a damaged body", () => {
    const digests = Buffer.alloc(4 * 32, 9);
    digests.fill(0, 64, 96);
    const block = {
      packs: [id(7)],
      pieces: Uint32Array.from([16, 4]),
      digests,
      slots: Uint16Array.from([0, 0, ZERO_SLOT, 0]),
      raw: Buffer.alloc(16, 3),
    };
    const bytes = encodeBlock(block, "zstd");
    expect(bytes.readUInt8(8)).toBe(2);
    expect(bytes.readUInt8(10)).toBe(1); // zstd, named in the header
    const back = decodeBlock("b", bytes);
    expect(back.packs).toEqual(block.packs);
    expect([...back.pieces]).toEqual([...block.pieces]);
    expect(Buffer.from(back.digests)).toEqual(digests);
    expect([...back.slots]).toEqual([...block.slots]);
    expect(Buffer.from(back.raw)).toEqual(block.raw);
    const damaged = Buffer.from(bytes);
    damaged[damaged.length - 5]! ^= 0xff;
    expect(() => decodeBlock("b", damaged)).toThrow(CorruptObjectError);
    const unknown = Buffer.from(bytes);
    unknown.writeUInt8(9, 10);
    expect(() => decodeBlock("b", unknown)).toThrow(UnsupportedFormatError);
  });

  it("refuses a slot naming a pack the block does not list", () => {
    const bytes = encodeBlock({
      packs: [id(5)],
      pieces: Uint32Array.from([0, 1]),
      digests: Buffer.alloc(32, 1),
      slots: Uint16Array.from([1]),
      raw: Buffer.alloc(0),
    });
    expect(() => decodeBlock("b", bytes)).toThrow(CorruptObjectError);
  });
});

describe("DigestTable", () => {
  it("maps digests to values through growth, and tells absent ones", () => {
    const table = new DigestTable(4);
    const digests = Buffer.concat(Array.from({ length: 5000 }, (_, i) => Buffer.from(id(i), "hex")));
    for (let i = 0; i < 5000; i++) expect(table.add(digests, i * 32, i)).toBe(i);
    expect(table.size).toBe(5000);
    for (let i = 0; i < 5000; i++) expect(table.get(digests, i * 32)).toBe(i);
    expect(table.add(digests, 0, 99)).toBe(0);
    expect(table.get(Buffer.from(id(123_456), "hex"))).toBe(-1);
    // Same first four bytes, different digest: still told apart.
    const twin = Buffer.from(digests.subarray(32, 64));
    twin[31] = twin[31]! ^ 1;
    expect(table.get(twin)).toBe(-1);
  });
});

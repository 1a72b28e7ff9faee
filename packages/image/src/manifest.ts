/**
 * The image manifest, format version 1: what an image is. Its store key is
 * manifests/<ab>/<SHA-256 of its bytes>, and that SHA-256 is the image id.
 * Described in full in packages/image/README.md ("Manifest format").
 *
 *   offset 0     header (24 bytes)
 *   24           sections, each: type u32 | length u32 | body | zero padding to 8
 *   size - 32    trailer: SHA-256 of every byte before it
 *
 * Byte order: every integer is little-endian, as the header's byteOrder
 * field states (1 = little-endian, the only value defined).
 *
 * Header:  magic "XFLTIMAG" [8] | version u16 | byteOrder u8 | flags u8 (0) | sectionCount u32 | totalLength u64
 *
 * Sections (bit 31 of the type set = optional: a reader that does not know
 * it skips it; an unknown mandatory section is refused):
 *   1 IMAGE   fixed fields, see IMAGE below
 *   2 DOMAIN  UTF-8 JSON: {"name": string, "uuid"?: string}
 *   3 BLOCKS  count u32 | reserved u32 | count x (block id [32] | pages u32 | rawBytes u32)
 * Each of IMAGE, DOMAIN, BLOCKS appears exactly once, in that order.
 */
import { createHash } from "node:crypto";
import type { Sha256Id } from "./keys.js";
import { ImageUsageError, UnsupportedFormatError } from "./errors.js";
import { CorruptObjectError } from "@xenfleet/store";

export const MANIFEST_MAGIC = Buffer.from("XFLTIMAG", "latin1");
export const MANIFEST_VERSION = 1;
export const BYTE_ORDER_LITTLE_ENDIAN = 1;

/** Field offsets and sizes, pinned by a test. */
export const HEADER = {
  size: 24,
  magic: 0,
  version: 8,
  byteOrder: 10,
  flags: 11,
  sectionCount: 12,
  totalLength: 16,
} as const;
export const SECTION_HEADER = { size: 8, type: 0, length: 4 } as const;
export const TRAILER = { size: 32 } as const;
export const IMAGE = {
  size: 120,
  streamBytes: 0, // u64
  streamSha256: 8, // [32]
  pageSize: 40, // u32
  sourceKind: 44, // u8: 1 v2, 2 legacy
  legacyWidth: 45, // u8: 0, 32 or 64
  domainType: 46, // u8: 0 unknown, 1 x86-pv, 2 x86-hvm
  reserved: 47, // u8 (0)
  xenMajor: 48, // u16
  xenMinor: 50, // u16
  libxcVersion: 52, // u32: 2 or 3 (0 unknown)
  createdMs: 56, // u64: milliseconds since the epoch, UTC
  pages: 64, // u64: pages carrying data in the stream
  zeroPages: 72, // u64: of those, all-zero pages (stored as nothing)
  parent: 80, // [32]: the parent image id, all zero for none
  records: 112, // u64: events (headers and records) in the stream
} as const;
export const BLOCK_ENTRY = { size: 40, id: 0, pages: 32, rawBytes: 36 } as const;

export const SECTION = { IMAGE: 1, DOMAIN: 2, BLOCKS: 3 } as const;
export const OPTIONAL_SECTION_BIT = 0x8000_0000;

export type SourceKind = { kind: "v2" } | { kind: "legacy"; width: 32 | 64 };
export type DomainTypeName = "x86-pv" | "x86-hvm" | "unknown";

export interface BlockRef {
  readonly id: Sha256Id;
  readonly pages: number;
  readonly rawBytes: number;
}

export interface Manifest {
  readonly streamBytes: number;
  /** SHA-256 of the whole stream, hex. */
  readonly streamSha256: string;
  readonly pageSize: number;
  readonly source: SourceKind;
  readonly domainType: DomainTypeName;
  readonly xenVersion: { major: number; minor: number } | null;
  readonly libxcVersion: number;
  readonly created: Date;
  readonly pages: number;
  readonly zeroPages: number;
  readonly records: number;
  readonly parent: Sha256Id | null;
  readonly domain: { name: string; uuid?: string };
  readonly blocks: readonly BlockRef[];
}

const DOMAIN_TYPES: readonly DomainTypeName[] = ["unknown", "x86-pv", "x86-hvm"];

export function encodeManifest(m: Manifest): Buffer {
  if (m.domain.name.length === 0) throw new ImageUsageError("a manifest names its domain");
  const image = Buffer.alloc(IMAGE.size);
  image.writeBigUInt64LE(BigInt(m.streamBytes), IMAGE.streamBytes);
  Buffer.from(m.streamSha256, "hex").copy(image, IMAGE.streamSha256);
  image.writeUInt32LE(m.pageSize, IMAGE.pageSize);
  image.writeUInt8(m.source.kind === "v2" ? 1 : 2, IMAGE.sourceKind);
  image.writeUInt8(m.source.kind === "legacy" ? m.source.width : 0, IMAGE.legacyWidth);
  image.writeUInt8(DOMAIN_TYPES.indexOf(m.domainType), IMAGE.domainType);
  image.writeUInt16LE(m.xenVersion?.major ?? 0xffff, IMAGE.xenMajor);
  image.writeUInt16LE(m.xenVersion?.minor ?? 0xffff, IMAGE.xenMinor);
  image.writeUInt32LE(m.libxcVersion, IMAGE.libxcVersion);
  image.writeBigUInt64LE(BigInt(m.created.getTime()), IMAGE.createdMs);
  image.writeBigUInt64LE(BigInt(m.pages), IMAGE.pages);
  image.writeBigUInt64LE(BigInt(m.zeroPages), IMAGE.zeroPages);
  if (m.parent !== null) Buffer.from(m.parent, "hex").copy(image, IMAGE.parent);
  image.writeBigUInt64LE(BigInt(m.records), IMAGE.records);

  const domain = Buffer.from(
    JSON.stringify(
      m.domain.uuid === undefined ? { name: m.domain.name } : { name: m.domain.name, uuid: m.domain.uuid },
    ),
    "utf8",
  );

  const blocks = Buffer.alloc(8 + m.blocks.length * BLOCK_ENTRY.size);
  blocks.writeUInt32LE(m.blocks.length, 0);
  m.blocks.forEach((b, i) => {
    const at = 8 + i * BLOCK_ENTRY.size;
    Buffer.from(b.id, "hex").copy(blocks, at + BLOCK_ENTRY.id);
    blocks.writeUInt32LE(b.pages, at + BLOCK_ENTRY.pages);
    blocks.writeUInt32LE(b.rawBytes, at + BLOCK_ENTRY.rawBytes);
  });

  const sections: Array<[number, Buffer]> = [
    [SECTION.IMAGE, image],
    [SECTION.DOMAIN, domain],
    [SECTION.BLOCKS, blocks],
  ];
  const parts: Buffer[] = [];
  let length = HEADER.size;
  for (const [type, body] of sections) {
    const head = Buffer.alloc(SECTION_HEADER.size);
    head.writeUInt32LE(type >>> 0, SECTION_HEADER.type);
    head.writeUInt32LE(body.length, SECTION_HEADER.length);
    parts.push(head, body, Buffer.alloc(pad8(body.length)));
    length += SECTION_HEADER.size + body.length + pad8(body.length);
  }
  length += TRAILER.size;
  const header = Buffer.alloc(HEADER.size);
  MANIFEST_MAGIC.copy(header, HEADER.magic);
  header.writeUInt16LE(MANIFEST_VERSION, HEADER.version);
  header.writeUInt8(BYTE_ORDER_LITTLE_ENDIAN, HEADER.byteOrder);
  header.writeUInt8(0, HEADER.flags);
  header.writeUInt32LE(sections.length, HEADER.sectionCount);
  header.writeBigUInt64LE(BigInt(length), HEADER.totalLength);
  const body = Buffer.concat([header, ...parts]);
  return Buffer.concat([body, createHash("sha256").update(body).digest()]);
}

/**
 * Checks and decodes a manifest. `key` names the object in errors. A
 * malformed manifest is CorruptObjectError; a version, byte order or
 * mandatory section this code does not speak is UnsupportedFormatError.
 */
export function decodeManifest(key: string, bytes: Buffer): Manifest {
  const bad = (detail: string, offset?: number): never => {
    throw new CorruptObjectError(key, detail, offset);
  };
  if (bytes.length < HEADER.size + TRAILER.size) bad(`truncated: ${bytes.length} bytes`, 0);
  if (!bytes.subarray(0, 8).equals(MANIFEST_MAGIC)) bad("bad magic, not an image manifest", 0);
  const version = bytes.readUInt16LE(HEADER.version);
  if (version !== MANIFEST_VERSION)
    throw new UnsupportedFormatError(key, `manifest version ${version} (this code reads version ${MANIFEST_VERSION})`);
  const byteOrder = bytes.readUInt8(HEADER.byteOrder);
  if (byteOrder !== BYTE_ORDER_LITTLE_ENDIAN)
    throw new UnsupportedFormatError(key, `byte order ${byteOrder} (only 1, little-endian, is defined)`);
  if (bytes.readUInt8(HEADER.flags) !== 0)
    throw new UnsupportedFormatError(key, `header flags ${bytes.readUInt8(HEADER.flags)}`);
  const total = Number(bytes.readBigUInt64LE(HEADER.totalLength));
  if (total !== bytes.length) bad(`header says ${total} bytes, object has ${bytes.length}`, HEADER.totalLength);
  const checksumAt = bytes.length - TRAILER.size;
  if (!createHash("sha256").update(bytes.subarray(0, checksumAt)).digest().equals(bytes.subarray(checksumAt)))
    bad("checksum mismatch", checksumAt);

  const sectionCount = bytes.readUInt32LE(HEADER.sectionCount);
  const known = new Map<number, Buffer>();
  const order: number[] = [];
  let at: number = HEADER.size;
  for (let i = 0; i < sectionCount; i++) {
    if (at + SECTION_HEADER.size > checksumAt) bad(`section ${i} header runs past the end`, at);
    const type = bytes.readUInt32LE(at + SECTION_HEADER.type);
    const length = bytes.readUInt32LE(at + SECTION_HEADER.length);
    const start = at + SECTION_HEADER.size;
    const end = start + length;
    if (end + pad8(length) > checksumAt) bad(`section ${i} (type ${type}) runs past the end`, at);
    at = end + pad8(length);
    if ((type & OPTIONAL_SECTION_BIT) !== 0) continue; // optional and unknown to this version: skipped
    if (type !== SECTION.IMAGE && type !== SECTION.DOMAIN && type !== SECTION.BLOCKS) {
      throw new UnsupportedFormatError(key, `mandatory section type ${type}`);
    }
    if (known.has(type)) bad(`section type ${type} appears twice`, at);
    known.set(type, bytes.subarray(start, end));
    order.push(type);
  }
  if (at !== checksumAt) bad(`sections end at ${at}, trailer starts at ${checksumAt}`, at);
  if (order.join() !== "1,2,3") bad(`sections ${order.join(",")}, expected IMAGE, DOMAIN, BLOCKS`, HEADER.size);

  const image = known.get(SECTION.IMAGE)!;
  if (image.length < IMAGE.size) bad(`IMAGE section is ${image.length} bytes, expected at least ${IMAGE.size}`);
  const sourceCode = image.readUInt8(IMAGE.sourceKind);
  const width = image.readUInt8(IMAGE.legacyWidth);
  let source: SourceKind;
  if (sourceCode === 1) source = { kind: "v2" };
  else if (sourceCode === 2 && (width === 32 || width === 64)) source = { kind: "legacy", width };
  else throw new UnsupportedFormatError(key, `source kind ${sourceCode} width ${width}`);
  const domainType =
    DOMAIN_TYPES[image.readUInt8(IMAGE.domainType)] ?? bad(`domain type ${image.readUInt8(IMAGE.domainType)}`);
  const major = image.readUInt16LE(IMAGE.xenMajor);
  const minor = image.readUInt16LE(IMAGE.xenMinor);
  const parentBytes = image.subarray(IMAGE.parent, IMAGE.parent + 32);

  let domain: { name: string; uuid?: string };
  try {
    const parsed = JSON.parse(known.get(SECTION.DOMAIN)!.toString("utf8")) as { name?: unknown; uuid?: unknown };
    if (typeof parsed.name !== "string" || (parsed.uuid !== undefined && typeof parsed.uuid !== "string"))
      throw new Error("fields");
    domain = parsed.uuid === undefined ? { name: parsed.name } : { name: parsed.name, uuid: parsed.uuid as string };
  } catch {
    return bad("DOMAIN section is not {name, uuid?} JSON");
  }

  const blocksBody = known.get(SECTION.BLOCKS)!;
  const count = blocksBody.length >= 8 ? blocksBody.readUInt32LE(0) : bad("BLOCKS section truncated");
  if (blocksBody.length !== 8 + count * BLOCK_ENTRY.size)
    bad(`BLOCKS section of ${blocksBody.length} bytes for ${count} blocks`);
  const blocks: BlockRef[] = [];
  for (let i = 0; i < count; i++) {
    const b = 8 + i * BLOCK_ENTRY.size;
    blocks.push({
      id: blocksBody.toString("hex", b + BLOCK_ENTRY.id, b + BLOCK_ENTRY.id + 32) as Sha256Id,
      pages: blocksBody.readUInt32LE(b + BLOCK_ENTRY.pages),
      rawBytes: blocksBody.readUInt32LE(b + BLOCK_ENTRY.rawBytes),
    });
  }

  return {
    streamBytes: Number(image.readBigUInt64LE(IMAGE.streamBytes)),
    streamSha256: image.toString("hex", IMAGE.streamSha256, IMAGE.streamSha256 + 32),
    pageSize: image.readUInt32LE(IMAGE.pageSize),
    source,
    domainType,
    xenVersion: major === 0xffff ? null : { major, minor },
    libxcVersion: image.readUInt32LE(IMAGE.libxcVersion),
    created: new Date(Number(image.readBigUInt64LE(IMAGE.createdMs))),
    pages: Number(image.readBigUInt64LE(IMAGE.pages)),
    zeroPages: Number(image.readBigUInt64LE(IMAGE.zeroPages)),
    records: Number(image.readBigUInt64LE(IMAGE.records)),
    parent: parentBytes.every((b) => b === 0) ? null : (parentBytes.toString("hex") as Sha256Id),
    domain,
    blocks,
  };
}

function pad8(length: number): number {
  return (8 - (length % 8)) % 8;
}

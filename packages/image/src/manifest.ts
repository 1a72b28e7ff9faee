/**
 * The image manifest, format versions 1 and 2: what an image is. Its store key is
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
 *   0x80000004 ORIGIN (optional)  UTF-8 JSON: {"host"?: string, "name"?: string,
 *             "labels"?: string[], "bytesNew"?: number,
 *             "parentSkipped"?: {"id": string, "reason": string},
 *             "stateDigest"?: string}
 * Each of IMAGE, DOMAIN, BLOCKS appears exactly once, in that order; ORIGIN,
 * written only when one of its fields is known, at most once, after them.
 * Manifests written before ORIGIN existed have none and load as before; a
 * reader that predates it skips it (the optional bit).
 *
 * Versions differ only in how the IMAGE section's digest is to be checked.
 * Version 1: the SHA-256 of the whole stream. Version 2: the IMAGE
 * section's digestKind byte (reserved, 0, in version 1) names it: 1 the
 * image digest (image-digest.ts), 0 the stream's SHA-256. A manifest with
 * the stream's SHA-256 is written as version 1, so readers that predate
 * version 2 still read it; one with the image digest as version 2, which
 * they refuse (UnsupportedFormatError) rather than check the wrong digest.
 */
import { createHash } from "node:crypto";
import type { Sha256Id } from "./keys.js";
import { ImageUsageError, UnsupportedFormatError } from "./errors.js";
import { defineLayout, field } from "@xenfleet/core";
import { CorruptObjectError } from "@xenfleet/store";

export const MANIFEST_MAGIC = Buffer.from("XFLTIMAG", "latin1");
/** The newest version this code writes and reads; it reads every version from 1. */
export const MANIFEST_VERSION = 2;
export const BYTE_ORDER_LITTLE_ENDIAN = 1;

export const HEADER_LAYOUT = defineLayout("manifest header", {
  size: 24,
  byteOrder: "little",
  fields: {
    magic: field.bytes(0, 8),
    version: field.u16(8),
    byteOrder: field.u8(10),
    flags: field.u8(11),
    sectionCount: field.u32(12),
    totalLength: field.u64(16),
  },
});
export const SECTION_HEADER_LAYOUT = defineLayout("manifest section header", {
  size: 8,
  byteOrder: "little",
  fields: { type: field.u32(0), length: field.u32(4) },
});
export const IMAGE_LAYOUT = defineLayout("IMAGE section", {
  size: 120,
  byteOrder: "little",
  fields: {
    streamBytes: field.u64(0),
    /** What digestKind names: the stream's SHA-256, or the image digest. */
    streamDigest: field.bytes(8, 32),
    pageSize: field.u32(40),
    /** 1 v2, 2 legacy. */
    sourceKind: field.u8(44),
    /** 0, 32 or 64. */
    legacyWidth: field.u8(45),
    /** 0 unknown, 1 x86-pv, 2 x86-hvm. */
    domainType: field.u8(46),
    /** Version 2: DIGEST_KINDS code of streamDigest. Version 1: reserved (0), the digest is the stream's SHA-256. */
    digestKind: field.u8(47),
    /** 0xffff: unknown. */
    xenMajor: field.u16(48),
    xenMinor: field.u16(50),
    /** 2 or 3 (0 unknown). */
    libxcVersion: field.u32(52),
    /** Milliseconds since the epoch, UTC. */
    createdMs: field.u64(56),
    /** Pages carrying data in the stream. */
    pages: field.u64(64),
    /** Of those, all-zero pages (stored as nothing). */
    zeroPages: field.u64(72),
    /** The parent image id, all zero for none. */
    parent: field.bytes(80, 32),
    /** Events (headers and records) in the stream. */
    records: field.u64(112),
  },
});
/** The start of the BLOCKS section, before its entries. */
export const BLOCKS_LAYOUT = defineLayout("BLOCKS section header", {
  size: 8,
  byteOrder: "little",
  fields: { count: field.u32(0), reserved: field.u32(4) },
});
export const BLOCK_ENTRY_LAYOUT = defineLayout("BLOCKS entry", {
  size: 40,
  byteOrder: "little",
  fields: { id: field.bytes(0, 32), pages: field.u32(32), rawBytes: field.u32(36) },
});

/** Field offsets and sizes, pinned by a test. */
export const HEADER = HEADER_LAYOUT.offsets;
export const SECTION_HEADER = SECTION_HEADER_LAYOUT.offsets;
export const TRAILER = { size: 32 } as const;
export const IMAGE = IMAGE_LAYOUT.offsets;
export const BLOCK_ENTRY = BLOCK_ENTRY_LAYOUT.offsets;

export const OPTIONAL_SECTION_BIT = 0x8000_0000;
export const SECTION = { IMAGE: 1, DOMAIN: 2, BLOCKS: 3, ORIGIN: (OPTIONAL_SECTION_BIT | 4) >>> 0 } as const;

/** How a manifest's stream digest is computed: the stream's SHA-256, or the image digest (image-digest.ts). */
export type DigestKind = "sha256" | "image";
export const DIGEST_KINDS: Readonly<Record<DigestKind, number>> = { sha256: 0, image: 1 };

export interface StreamDigest {
  readonly kind: DigestKind;
  /** Hex. */
  readonly hex: string;
}

export type SourceKind = { kind: "v2" } | { kind: "legacy"; width: 32 | 64 };
export type DomainTypeName = "x86-pv" | "x86-hvm" | "unknown";

export interface BlockRef {
  readonly id: Sha256Id;
  readonly pages: number;
  readonly rawBytes: number;
}

export interface Manifest {
  readonly streamBytes: number;
  /** The whole stream's digest: its SHA-256 (images written before version 2), or the image digest. */
  readonly streamDigest: StreamDigest;
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
  /** ORIGIN: the host the domain was saved on. */
  readonly host?: string;
  /**
   * ORIGIN: the domain's name on that host. `domain.name` is the name its
   * refs are filed under, which for a fleet save is the uuid.
   */
  readonly domainName?: string;
  /** ORIGIN: labels given to the save (e.g. "nightly"), what retention rules select by. */
  readonly labels?: readonly string[];
  /** ORIGIN: bytes the import added to the store (its new packs and blocks, and this manifest). */
  readonly bytesNew?: number;
  /**
   * ORIGIN: the parent this image should have had and why it was not used
   * (its manifest could not be read): the image is a full one, flagged so.
   */
  readonly parentSkipped?: { readonly id: string; readonly reason: string };
  /**
   * ORIGIN: the hypervisor's digest of the domain's state the stream
   * captured (memory and vCPUs, taken at the paused point; the sim computes
   * it, Xen cannot), which a restore of the image must reproduce: what a
   * health check compares its copy with.
   */
  readonly stateDigest?: string;
}

const DOMAIN_TYPES: readonly DomainTypeName[] = ["unknown", "x86-pv", "x86-hvm"];

export function encodeManifest(m: Manifest): Buffer {
  if (m.domain.name.length === 0) throw new ImageUsageError("a manifest names its domain");
  const image = IMAGE_LAYOUT.encode({
    streamBytes: m.streamBytes,
    streamDigest: Buffer.from(m.streamDigest.hex, "hex"),
    digestKind: DIGEST_KINDS[m.streamDigest.kind],
    pageSize: m.pageSize,
    sourceKind: m.source.kind === "v2" ? 1 : 2,
    legacyWidth: m.source.kind === "legacy" ? m.source.width : 0,
    domainType: DOMAIN_TYPES.indexOf(m.domainType),
    xenMajor: m.xenVersion?.major ?? 0xffff,
    xenMinor: m.xenVersion?.minor ?? 0xffff,
    libxcVersion: m.libxcVersion,
    createdMs: m.created.getTime(),
    pages: m.pages,
    zeroPages: m.zeroPages,
    ...(m.parent !== null ? { parent: Buffer.from(m.parent, "hex") } : {}),
    records: m.records,
  });

  const domain = Buffer.from(
    JSON.stringify(
      m.domain.uuid === undefined ? { name: m.domain.name } : { name: m.domain.name, uuid: m.domain.uuid },
    ),
    "utf8",
  );

  const blocks = Buffer.alloc(BLOCKS_LAYOUT.size + m.blocks.length * BLOCK_ENTRY_LAYOUT.size);
  BLOCKS_LAYOUT.encodeInto(blocks, 0, { count: m.blocks.length });
  m.blocks.forEach((b, i) => {
    BLOCK_ENTRY_LAYOUT.encodeInto(blocks, BLOCKS_LAYOUT.size + i * BLOCK_ENTRY_LAYOUT.size, {
      id: Buffer.from(b.id, "hex"),
      pages: b.pages,
      rawBytes: b.rawBytes,
    });
  });

  const sections: Array<[number, Buffer]> = [
    [SECTION.IMAGE, image],
    [SECTION.DOMAIN, domain],
    [SECTION.BLOCKS, blocks],
  ];
  const origin = encodeOrigin(m);
  if (origin !== undefined) sections.push([SECTION.ORIGIN, origin]);
  const parts: Buffer[] = [];
  let length = HEADER.size;
  for (const [type, body] of sections) {
    const head = SECTION_HEADER_LAYOUT.encode({ type: type >>> 0, length: body.length });
    parts.push(head, body, Buffer.alloc(pad8(body.length)));
    length += SECTION_HEADER.size + body.length + pad8(body.length);
  }
  length += TRAILER.size;
  const header = HEADER_LAYOUT.encode({
    magic: MANIFEST_MAGIC,
    version: m.streamDigest.kind === "sha256" ? 1 : MANIFEST_VERSION,
    byteOrder: BYTE_ORDER_LITTLE_ENDIAN,
    flags: 0,
    sectionCount: sections.length,
    totalLength: length,
  });
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
  const header = HEADER_LAYOUT.decode(bytes);
  if (!header.magic.equals(MANIFEST_MAGIC)) bad("bad magic, not an image manifest", 0);
  const { version, byteOrder, flags, totalLength: total } = header;
  if (version < 1 || version > MANIFEST_VERSION)
    throw new UnsupportedFormatError(
      key,
      `manifest version ${version} (this code reads versions 1 to ${MANIFEST_VERSION})`,
    );
  if (byteOrder !== BYTE_ORDER_LITTLE_ENDIAN)
    throw new UnsupportedFormatError(key, `byte order ${byteOrder} (only 1, little-endian, is defined)`);
  if (flags !== 0) throw new UnsupportedFormatError(key, `header flags ${flags}`);
  if (total !== bytes.length) bad(`header says ${total} bytes, object has ${bytes.length}`, HEADER.totalLength);
  const checksumAt = bytes.length - TRAILER.size;
  if (!createHash("sha256").update(bytes.subarray(0, checksumAt)).digest().equals(bytes.subarray(checksumAt)))
    bad("checksum mismatch", checksumAt);

  const { sectionCount } = header;
  const known = new Map<number, Buffer>();
  let origin: Buffer | undefined;
  const order: number[] = [];
  let at: number = HEADER.size;
  for (let i = 0; i < sectionCount; i++) {
    if (at + SECTION_HEADER.size > checksumAt) bad(`section ${i} header runs past the end`, at);
    const { type, length } = SECTION_HEADER_LAYOUT.decode(bytes, at);
    const start = at + SECTION_HEADER.size;
    const end = start + length;
    if (end + pad8(length) > checksumAt) bad(`section ${i} (type ${type}) runs past the end`, at);
    at = end + pad8(length);
    if (type === SECTION.ORIGIN) {
      if (origin !== undefined) bad("ORIGIN section appears twice", at);
      origin = bytes.subarray(start, end);
      continue;
    }
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

  const imageBody = known.get(SECTION.IMAGE)!;
  if (imageBody.length < IMAGE_LAYOUT.size)
    bad(`IMAGE section is ${imageBody.length} bytes, expected at least ${IMAGE_LAYOUT.size}`);
  const image = IMAGE_LAYOUT.decode(imageBody);
  const { sourceKind: sourceCode, legacyWidth: width, xenMajor: major, xenMinor: minor } = image;
  let source: SourceKind;
  if (sourceCode === 1) source = { kind: "v2" };
  else if (sourceCode === 2 && (width === 32 || width === 64)) source = { kind: "legacy", width };
  else throw new UnsupportedFormatError(key, `source kind ${sourceCode} width ${width}`);
  const domainType = DOMAIN_TYPES[image.domainType] ?? bad(`domain type ${image.domainType}`);
  const digestKind = version === 1 ? "sha256" : digestKindOf(image.digestKind);
  if (digestKind === undefined) throw new UnsupportedFormatError(key, `stream digest kind ${image.digestKind}`);

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
  const { count } =
    blocksBody.length >= BLOCKS_LAYOUT.size ? BLOCKS_LAYOUT.decode(blocksBody) : bad("BLOCKS section truncated");
  if (blocksBody.length !== BLOCKS_LAYOUT.size + count * BLOCK_ENTRY_LAYOUT.size)
    bad(`BLOCKS section of ${blocksBody.length} bytes for ${count} blocks`);
  const blocks: BlockRef[] = [];
  for (let i = 0; i < count; i++) {
    const entry = BLOCK_ENTRY_LAYOUT.decode(blocksBody, BLOCKS_LAYOUT.size + i * BLOCK_ENTRY_LAYOUT.size);
    blocks.push({ id: entry.id.toString("hex") as Sha256Id, pages: entry.pages, rawBytes: entry.rawBytes });
  }

  return {
    streamBytes: image.streamBytes,
    streamDigest: { kind: digestKind, hex: image.streamDigest.toString("hex") },
    pageSize: image.pageSize,
    source,
    domainType,
    xenVersion: major === 0xffff ? null : { major, minor },
    libxcVersion: image.libxcVersion,
    created: new Date(image.createdMs),
    pages: image.pages,
    zeroPages: image.zeroPages,
    records: image.records,
    parent: image.parent.every((b) => b === 0) ? null : (image.parent.toString("hex") as Sha256Id),
    domain,
    blocks,
    ...(origin === undefined ? {} : decodeOrigin(origin, bad)),
  };
}

function digestKindOf(code: number): DigestKind | undefined {
  return (Object.keys(DIGEST_KINDS) as DigestKind[]).find((k) => DIGEST_KINDS[k] === code);
}

type Origin = Pick<Manifest, "host" | "domainName" | "labels" | "bytesNew" | "parentSkipped" | "stateDigest">;

/** The ORIGIN section's JSON ("name" for domainName), or undefined when no field is known. */
function encodeOrigin(m: Manifest): Buffer | undefined {
  const json = {
    ...(m.host === undefined ? {} : { host: m.host }),
    ...(m.domainName === undefined ? {} : { name: m.domainName }),
    ...(m.labels === undefined ? {} : { labels: [...m.labels] }),
    ...(m.bytesNew === undefined ? {} : { bytesNew: m.bytesNew }),
    ...(m.parentSkipped === undefined ? {} : { parentSkipped: { ...m.parentSkipped } }),
    ...(m.stateDigest === undefined ? {} : { stateDigest: m.stateDigest }),
  };
  if (Object.keys(json).length === 0) return undefined;
  if (m.bytesNew !== undefined && !(Number.isSafeInteger(m.bytesNew) && m.bytesNew >= 0))
    throw new ImageUsageError(`bytesNew is a byte count, not ${m.bytesNew}`);
  return Buffer.from(JSON.stringify(json), "utf8");
}

/** Fields of a type this version does not expect are refused; fields it does not know are ignored. */
function decodeOrigin(body: Buffer, bad: (detail: string) => never): Origin {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
  } catch {
    return bad("ORIGIN section is not a JSON object");
  }
  const { host, name, labels, bytesNew, parentSkipped, stateDigest } = parsed;
  if (host !== undefined && typeof host !== "string") bad("ORIGIN host is not a string");
  if (name !== undefined && typeof name !== "string") bad("ORIGIN name is not a string");
  if (labels !== undefined && !(Array.isArray(labels) && labels.every((l) => typeof l === "string")))
    bad("ORIGIN labels are not a list of strings");
  if (bytesNew !== undefined && !(Number.isSafeInteger(bytesNew) && (bytesNew as number) >= 0))
    bad("ORIGIN bytesNew is not a byte count");
  const skipped = parentSkipped as { id?: unknown; reason?: unknown } | undefined;
  if (skipped !== undefined && !(typeof skipped?.id === "string" && typeof skipped.reason === "string"))
    bad("ORIGIN parentSkipped is not {id, reason}");
  if (stateDigest !== undefined && !(typeof stateDigest === "string" && /^[0-9a-f]{64}$/.test(stateDigest)))
    bad("ORIGIN stateDigest is not 64 hex digits");
  return {
    ...(host === undefined ? {} : { host: host as string }),
    ...(name === undefined ? {} : { domainName: name as string }),
    ...(labels === undefined ? {} : { labels: labels as string[] }),
    ...(bytesNew === undefined ? {} : { bytesNew: bytesNew as number }),
    ...(skipped === undefined ? {} : { parentSkipped: { id: skipped.id as string, reason: skipped.reason as string } }),
    ...(stateDigest === undefined ? {} : { stateDigest: stateDigest as string }),
  };
}

function pad8(length: number): number {
  return (8 - (length % 8)) % 8;
}

/**
 * The libxc image header (always big-endian) and domain header (in the
 * image's byte order).
 *
 * Spec: libxc-migration-stream.html sections 3.1 "Image Header" and 3.2
 * "Domain Header".
 */
import { ByteBuilder, dataView, hex } from "./bytes.js";
import type { Fail } from "./grammar.js";
import {
  type ByteOrder,
  DOMAIN_TYPE_NAMES,
  type DomainTypeName,
  IHDR_ID,
  IHDR_MARKER,
  IHDR_OPT_BIG_ENDIAN,
  IHDR_OPT_RESERVED,
  IHDR_VERSIONS,
  type LibxcVersion,
  PAGE_SHIFT,
  SIZES,
  domainTypeNumber,
} from "./layout.js";

export interface ImageHeader {
  version: LibxcVersion;
  byteOrder: ByteOrder;
}

export interface DomainHeader {
  domainType: number;
  domainTypeName: DomainTypeName;
  pageShift: number;
  xenMajor: number;
  xenMinor: number;
}

export function startsWithImageMarker(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && dataView(bytes).getBigUint64(0, false) === IHDR_MARKER;
}

export function decodeImageHeader(bytes: Uint8Array, fail: Fail): ImageHeader {
  const v = dataView(bytes);
  const marker = v.getBigUint64(0, false);
  if (marker !== IHDR_MARKER) {
    // Legacy (pre-v2) images have at least one zero bit in their first 8 bytes.
    fail(
      "unsupported-version",
      `marker ${hex(IHDR_MARKER, 16)} (a legacy image must be converted first)`,
      hex(marker, 16),
    );
  }
  const id = v.getUint32(8, false);
  if (id !== IHDR_ID) fail("bad-magic", `image id ${hex(IHDR_ID)} ("XENF")`, hex(id));
  const version = v.getUint32(12, false);
  if (!(IHDR_VERSIONS as readonly number[]).includes(version))
    fail("unsupported-version", "libxc image version 2 or 3", String(version));
  const options = v.getUint16(16, false);
  if (options & IHDR_OPT_RESERVED) fail("reserved-bits", "zero bits 1-15 in the image options", hex(options, 4));
  if (v.getUint16(18, false) !== 0 || v.getUint32(20, false) !== 0)
    fail("reserved-bits", "zero reserved fields in the image header");
  return { version: version as LibxcVersion, byteOrder: options & IHDR_OPT_BIG_ENDIAN ? "big" : "little" };
}

export function encodeImageHeader(version: LibxcVersion, byteOrder: ByteOrder): Uint8Array {
  return new ByteBuilder(SIZES.imageHeader, false)
    .u64(IHDR_MARKER)
    .u32(IHDR_ID)
    .u32(version)
    .u16(byteOrder === "big" ? IHDR_OPT_BIG_ENDIAN : 0).bytes;
}

export function decodeDomainHeader(bytes: Uint8Array, littleEndian: boolean, fail: Fail): DomainHeader {
  const v = dataView(bytes);
  const domainType = v.getUint32(0, littleEndian);
  const name = DOMAIN_TYPE_NAMES[domainType];
  if (name === undefined) fail("bad-value", "domain type 1 (x86 PV) or 2 (x86 HVM)", hex(domainType));
  const pageShift = v.getUint16(4, littleEndian);
  if (v.getUint16(6, littleEndian) !== 0) fail("reserved-bits", "zero reserved field in the domain header");
  if (pageShift !== PAGE_SHIFT) fail("bad-value", `page_shift ${PAGE_SHIFT}`, String(pageShift));
  return {
    domainType,
    domainTypeName: name,
    pageShift,
    xenMajor: v.getUint32(8, littleEndian),
    xenMinor: v.getUint32(12, littleEndian),
  };
}

export function encodeDomainHeader(
  type: DomainTypeName,
  xenMajor: number,
  xenMinor: number,
  littleEndian: boolean,
): Uint8Array {
  return new ByteBuilder(SIZES.domainHeader, littleEndian)
    .u32(domainTypeNumber(type))
    .u16(PAGE_SHIFT)
    .skip(2)
    .u32(xenMajor)
    .u32(xenMinor).bytes;
}

/**
 * Wire constants and header sizes of the three layers.
 *
 * Specs: https://xenbits.xen.org/docs/4.17-testing/misc/libxc-migration-stream.html
 * (3 Headers, 4 Records) and .../libxl-migration-stream.html (3 Header,
 * 4 Record Overview); the xl header is `struct save_file_header` in
 * tools/xl/xl.h.
 */

export type ByteOrder = "little" | "big";

/** Sizes the layouts below are pinned to; a test checks each one. */
export const SIZES = {
  /** 32-byte magic, then byteorder, mandatory_flags, optional_flags, optional_data_len (u32 each). */
  xlHeader: 48,
  /** ident (u64), version (u32), options (u32). */
  libxlHeader: 16,
  /** marker (u64), id (u32), version (u32), options (u16), reserved (u16), reserved (u32). */
  imageHeader: 24,
  /** type (u32), page_shift (u16), reserved (u16), xen_major (u32), xen_minor (u32). */
  domainHeader: 16,
  /** type (u32), body_length (u32); the same for libxl and libxc records. */
  recordHeader: 8,
  /** PAGE_DATA body start: count (u32), reserved (u32). */
  pageDataHeader: 8,
  /** One PAGE_DATA pfn entry (u64). */
  pfnEntry: 8,
  /** libxl emulator sub-header: emulator_id (u32), index (u32). */
  emulatorHeader: 8,
} as const;

/** Records are padded with zeroes to this alignment. */
export const RECORD_ALIGN = 8;

/** Largest record body Xen's restore side accepts (REC_LENGTH_MAX). */
export const REC_LENGTH_MAX = 128 * 1024 * 1024;

/** Most PFNs Xen's save side puts in one PAGE_DATA record (MAX_BATCH_SIZE). */
export const MAX_BATCH_SIZE = 1024;

/** Types with bit 31 set are optional: a reader that does not know them skips them. */
export const REC_TYPE_OPTIONAL = 0x8000_0000;

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

// xl save-file header (tools/xl/xl.h)
export const XL_MAGIC = new TextEncoder().encode("Xen saved domain, xl format\n \0 \r");
export const XL_BYTEORDER_VALUE = 0x01020304;
export const XL_MANDATORY_FLAG_JSON = 1 << 0;
export const XL_MANDATORY_FLAG_STREAMV2 = 1 << 1;
export const XL_MANDATORY_FLAG_ALL = XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMV2;

// libxl header: "LibxlFmt", always big-endian
export const LIBXL_IDENT = 0x4c6962786c466d74n;
export const LIBXL_VERSION = 2;
export const LIBXL_OPT_BIG_ENDIAN = 1 << 0;
export const LIBXL_OPT_LEGACY = 1 << 1;
/** Bits 2-31 of the libxl options word are reserved. */
export const LIBXL_OPT_RESERVED = ~(LIBXL_OPT_BIG_ENDIAN | LIBXL_OPT_LEGACY) >>> 0;

// libxc image header: always big-endian
export const IHDR_MARKER = 0xffff_ffff_ffff_ffffn;
export const IHDR_ID = 0x58454e46; // "XENF"
export const IHDR_VERSIONS = [2, 3] as const;
export type LibxcVersion = (typeof IHDR_VERSIONS)[number];
export const IHDR_OPT_BIG_ENDIAN = 1 << 0;
/** Bits 1-15 of the image options are reserved. */
export const IHDR_OPT_RESERVED = 0xfffe;

// libxc domain header
export const DomainType = { X86_PV: 1, X86_HVM: 2 } as const;
export type DomainTypeName = "x86-pv" | "x86-hvm";
export const DOMAIN_TYPE_NAMES: Readonly<Record<number, DomainTypeName>> = { 1: "x86-pv", 2: "x86-hvm" };
export function domainTypeNumber(name: DomainTypeName): number {
  return name === "x86-pv" ? DomainType.X86_PV : DomainType.X86_HVM;
}

/** XEN_DOMCTL_PFINFO_* page types, in bits 63-60 of a PAGE_DATA pfn entry. */
export const PageType = {
  NOTAB: 0x0,
  L1TAB: 0x1,
  L2TAB: 0x2,
  L3TAB: 0x3,
  L4TAB: 0x4,
  L1TAB_PIN: 0x9,
  L2TAB_PIN: 0xa,
  L3TAB_PIN: 0xb,
  L4TAB_PIN: 0xc,
  BROKEN: 0xd,
  XALLOC: 0xe,
  XTAB: 0xf,
} as const;
export type PageType = number;

export const PAGE_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(PageType).map(([name, value]) => [value, name]),
);

/** Types 0x5-0x8 are reserved; a stream using them is refused. */
export function isValidPageType(type: number): boolean {
  return type <= 0x4 || (type >= 0x9 && type <= 0xf);
}

/** Normal and page-table pages carry 4096 bytes of data; BROKEN, XALLOC, XTAB carry none. */
export function pageTypeHasData(type: number): boolean {
  return isValidPageType(type) && (type & 0x7) <= 0x4;
}

/** Bits 51-0 of a pfn entry; bits 59-52 are reserved. */
export const PFN_BITS = 52;

/** libxl emulator ids. */
export const EmulatorId = { UNKNOWN: 0, QEMU_TRADITIONAL: 1, QEMU_UPSTREAM: 2 } as const;

export function padLength(length: number): number {
  return (RECORD_ALIGN - (length % RECORD_ALIGN)) % RECORD_ALIGN;
}

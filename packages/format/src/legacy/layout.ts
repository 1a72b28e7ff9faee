/**
 * Wire layout of legacy (pre-v2) Xen save streams, as written by libxc's
 * xc_domain_save() up to Xen 4.5 and wrapped by xl/libxl.
 *
 * Reference: Xen tools/python/xen/migration/legacy.py (the layout described
 * in prose), tools/python/scripts/convert-legacy-stream (what a converter
 * reads and writes), tools/libxc/xc_domain_save.c and xc_domain_restore.c in
 * Xen 4.5 (the writer and reader of record), tools/libxc/xg_save_restore.h
 * (XC_SAVE_ID_* values). Every multi-byte field is little-endian: legacy
 * streams were only ever written by x86 toolstacks, in host byte order.
 *
 * "ulong" below is the toolstack's `unsigned long`: 4 bytes for a 32-bit
 * toolstack, 8 for a 64-bit one. That width is not recorded anywhere in the
 * stream, which is why it must be detected or given (see detect.ts).
 */

export type ToolstackWidth = 32 | 64;
export type LegacyGuest = "pv" | "hvm";

export function ulongSize(width: ToolstackWidth): 4 | 8 {
  return width === 32 ? 4 : 8;
}

/**
 * Chunk markers of the body phase (XC_SAVE_ID_*). A positive marker is a page
 * batch of that many pages; zero ends the body.
 */
export const Chunk = {
  END: 0,
  ENABLE_VERIFY_MODE: -1,
  VCPU_INFO: -2,
  HVM_IDENT_PT: -3,
  HVM_VM86_TSS: -4,
  TMEM: -5,
  TMEM_EXTRA: -6,
  TSC_INFO: -7,
  HVM_CONSOLE_PFN: -8,
  LAST_CHECKPOINT: -9,
  HVM_ACPI_IOPORTS_LOCATION: -10,
  HVM_VIRIDIAN: -11,
  COMPRESSED_DATA: -12,
  ENABLE_COMPRESSION: -13,
  HVM_GENERATION_ID_ADDR: -14,
  HVM_PAGING_RING_PFN: -15,
  HVM_MONITOR_RING_PFN: -16,
  HVM_SHARING_RING_PFN: -17,
  TOOLSTACK: -18,
  HVM_IOREQ_SERVER_PFN: -19,
  HVM_NR_IOREQ_SERVER_PAGES: -20,
} as const;

export const CHUNK_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Chunk).map(([name, id]) => [id, name]),
);

/** The lowest (most negative) chunk id this format defines. */
export const LOWEST_CHUNK_ID = Chunk.HVM_NR_IOREQ_SERVER_PAGES;

/** HVM_PARAM_* indices (xen/include/public/hvm/params.h). */
export const HvmParam = {
  STORE_PFN: 1,
  IOREQ_PFN: 5,
  BUFIOREQ_PFN: 6,
  VIRIDIAN: 9,
  IDENT_PT: 12,
  VM86_TSS: 15,
  CONSOLE_PFN: 17,
  ACPI_IOPORTS_LOCATION: 19,
  PAGING_RING_PFN: 27,
  MONITOR_RING_PFN: 28,
  SHARING_RING_PFN: 29,
  IOREQ_SERVER_PFN: 32,
  NR_IOREQ_SERVER_PAGES: 33,
  VM_GENERATION_ID_ADDR: 34,
} as const;

/**
 * Chunks that carry one HVM parameter as `{u32 padding, u64 value}` after the
 * marker (the C struct is `{int id; uint32_t pad; uint64_t data;}`), and the
 * parameter each one sets on restore.
 */
export const HVM_PARAM_CHUNKS: ReadonlyMap<number, number> = new Map([
  [Chunk.HVM_IDENT_PT, HvmParam.IDENT_PT],
  [Chunk.HVM_VM86_TSS, HvmParam.VM86_TSS],
  [Chunk.HVM_CONSOLE_PFN, HvmParam.CONSOLE_PFN],
  [Chunk.HVM_ACPI_IOPORTS_LOCATION, HvmParam.ACPI_IOPORTS_LOCATION],
  [Chunk.HVM_VIRIDIAN, HvmParam.VIRIDIAN],
  [Chunk.HVM_GENERATION_ID_ADDR, HvmParam.VM_GENERATION_ID_ADDR],
  [Chunk.HVM_PAGING_RING_PFN, HvmParam.PAGING_RING_PFN],
  [Chunk.HVM_MONITOR_RING_PFN, HvmParam.MONITOR_RING_PFN],
  [Chunk.HVM_SHARING_RING_PFN, HvmParam.SHARING_RING_PFN],
  [Chunk.HVM_IOREQ_SERVER_PFN, HvmParam.IOREQ_SERVER_PFN],
  [Chunk.HVM_NR_IOREQ_SERVER_PAGES, HvmParam.NR_IOREQ_SERVER_PAGES],
]);

/** Bytes after the marker of each fixed-size chunk. */
export const CHUNK_BODY = {
  /** {u32 pad, u64 value} */
  hvmParam: 12,
  /** u32 mode, u64 nsec, u32 khz, u32 incarnation (packed) */
  tscInfo: 20,
  /** i32 max_vcpu_id, then (max_vcpu_id / 64 + 1) u64 bitmap words */
  vcpuInfoHead: 4,
  /** u32 length, then that many bytes */
  toolstackHead: 4,
} as const;

/** Most pages in one batch (MAX_BATCH_SIZE); the saver never writes more. */
export const MAX_BATCH = 1024;

/** Highest vcpu id a legacy stream may announce (XC_SR_MAX_VCPUS - 1). */
export const MAX_VCPU_ID = 4095;

/**
 * A pfn entry of a page batch: page type (XEN_DOMCTL_PFINFO_*) in bits 31-28,
 * pfn in bits 27-0, whatever the toolstack width.
 */
export const PFN_TYPE_SHIFT = 28;
export const PFN_MASK = 0x0fff_ffff;
/** Types 0xd (broken), 0xe (allocate only) and 0xf (invalid) carry no page data. */
export const FIRST_DATALESS_TYPE = 0xd;
export const PFINFO_XTAB = 0xf;

/**
 * The saver refuses domains whose p2m_size exceeds the 28-bit pfn field
 * (~XEN_DOMCTL_PFINFO_LTAB_MASK), so a larger one is not a legacy stream.
 */
export const MAX_P2M_SIZE = PFN_MASK;

export const PAGE_SIZE = 4096;

// PV extended info: ~0UL in place of the first p2m frame, a u32 total length,
// then blocks of {char id[4], u32 size, data}.
export const ExtBlock = { VCPU: "vcpu", EXTV: "extv", XCNT: "xcnt" } as const;
export const EXT_BLOCK_IDS: readonly string[] = Object.values(ExtBlock);
export const EXT_BLOCK_HEAD = 8;
/** Largest extended-info area accepted: Xen's is a few KiB. */
export const MAX_EXT_INFO = 64 * 1024;

/**
 * The "vcpu" block's size is the size of vcpu_guest_context for the guest's
 * width, which is how the saver tells the restorer the guest's width; a
 * 64-bit PV guest always has 4 levels of page tables, a 32-bit one 3 (PAE).
 */
export const VCPU_CONTEXT_64 = 0x1430;
export const VCPU_CONTEXT_32 = 0xaf0;
/** Size of the extended vcpu context sent per vcpu when "extv" is present. */
export const VCPU_EXTENDED_SIZE = 128;
/** Each vcpu's xsave data opens with u64 xfeature_mask and u64 size. */
export const XSAVE_HEAD = 16;

/** HVM tail: three u64 "magic" pfns (ioreq, buffered ioreq, xenstore), then u32 + HVM context. */
export const HVM_MAGIC_PFNS = 24;

/** PV tail: shared info page. */
export const SHARED_INFO_SIZE = PAGE_SIZE;

/** Device-model record signature (21 bytes, no NUL). */
export const QEMU_SIGNATURE_LENGTH = 21;
/** u32 length then the qemu save state: the only kind libxl 4.x wrote. */
export const QEMU_SIGNATURE_V2 = "DeviceModelRecord0002";
/** Older and Remus kinds; Xen's converter refuses them and so do we. */
export const QEMU_SIGNATURE_EOF = "QemuDeviceModelRecord";
export const QEMU_SIGNATURE_REMUS = "RemusDeviceModelState";

/**
 * libxl's legacy toolstack chunk, version 1: u32 version, u32 count, then
 * `count` physmap entries {u64 phys_offset, u64 start_addr, u64 size,
 * u32 namelen, name}. A 64-bit libxl leaked 4 bytes of struct padding after
 * every name, so the entry size depends on the toolstack width.
 */
export const TOOLSTACK_VERSION = 1;
export const TOOLSTACK_HEAD = 8;
export const PHYSMAP_HEAD = 28;
export const PHYSMAP_PADDING_64 = 4;

/** Largest toolstack chunk converted (it is parsed in memory); libxl's are a few hundred bytes. */
export const MAX_TOOLSTACK = 1024 * 1024;

/** Domain header Xen version of converted streams: 0.1 means "legacy converted, converter v1". */
export const CONVERTED_XEN_MAJOR = 0;
export const CONVERTED_XEN_MINOR = 1;

/**
 * Every record type of the libxc and libxl layers, declared once. The reader,
 * the writer, error messages and `stream inspect` all work from these tables.
 *
 * Specs: libxc-migration-stream.html section 4 "Records" and 5 "Layout";
 * libxl-migration-stream.html section 5 "Records".
 */
import { ByteBuilder, dataView, hex, isAllZero } from "./bytes.js";
import type { FormatErrorReason } from "./errors.js";
import {
  type DomainTypeName,
  type LibxcVersion,
  PAGE_SIZE,
  PFN_BITS,
  REC_LENGTH_MAX,
  REC_TYPE_OPTIONAL,
  SIZES,
  isValidPageType,
  pageTypeHasData,
} from "./layout.js";

/** What a record codec needs from its caller. */
export interface CodecContext {
  readonly littleEndian: boolean;
  /** Throws a RecordError naming the record being decoded or encoded. */
  fail(reason: FormatErrorReason, expected: string, actual?: string): never;
}

export interface RecordSpec<F> {
  readonly layer: "libxc" | "libxl";
  readonly type: number;
  readonly name: string;
  /** Body length bounds, checked from the record header before the body is read. */
  readonly minLength: number;
  readonly maxLength: number;
  /** libxc image versions that allow the record. */
  readonly versions: readonly LibxcVersion[];
  /** Domain types the record belongs to (libxc); undefined means any. */
  readonly domains?: readonly DomainTypeName[];
  /** Static data: only before STATIC_DATA_END (v3) or the first memory record (v2). */
  readonly staticData?: boolean;
  /** False for records Xen's restore side refuses in a save or migration stream. */
  readonly restorable: boolean;
  /** Decodes and validates a body (without padding). */
  decode(body: Uint8Array, ctx: CodecContext): F;
  /** Encodes a body (without padding); validates like decode. */
  encode(fields: F, ctx: CodecContext): Uint8Array;
}

export type EmptyFields = Record<string, never>;

/** One PAGE_DATA pfn entry: bits 63-60 type, 51-0 pfn. */
export interface PfnEntry {
  pfn: number;
  type: number;
}

export interface PageDataFields {
  pfns: PfnEntry[];
  pages: Uint8Array[];
}

const ALL_VERSIONS: readonly LibxcVersion[] = [2, 3];
const V3_ONLY: readonly LibxcVersion[] = [3];
const PV: readonly DomainTypeName[] = ["x86-pv"];
const HVM: readonly DomainTypeName[] = ["x86-hvm"];

function spec<F>(s: RecordSpec<F>): RecordSpec<F> {
  return s;
}

const empty = (layer: "libxc" | "libxl", type: number, name: string, extra: Partial<RecordSpec<EmptyFields>> = {}) =>
  spec<EmptyFields>({
    layer,
    type,
    name,
    minLength: 0,
    maxLength: 0,
    versions: ALL_VERSIONS,
    restorable: true,
    decode: () => ({}),
    encode: () => new Uint8Array(0),
    ...extra,
  });

/** An opaque blob; `exact` pins its size. */
const blob = (type: number, name: string, minLength: number, extra: Partial<RecordSpec<{ data: Uint8Array }>> = {}) =>
  spec<{ data: Uint8Array }>({
    layer: "libxc",
    type,
    name,
    minLength,
    maxLength: REC_LENGTH_MAX,
    versions: ALL_VERSIONS,
    restorable: true,
    decode: (body) => ({ data: body }),
    encode: (fields, ctx) => {
      if (fields.data.length < minLength)
        ctx.fail("bad-length", `at least ${minLength} bytes`, String(fields.data.length));
      return fields.data;
    },
    ...extra,
  });

export interface VcpuFields {
  vcpuId: number;
  context: Uint8Array;
}

/** X86_PV_VCPU_{BASIC,EXTENDED,XSAVE,MSRS}: vcpu_id, reserved, context blob. */
const vcpu = (type: number, name: string) =>
  spec<VcpuFields>({
    layer: "libxc",
    type,
    name,
    minLength: 8,
    maxLength: REC_LENGTH_MAX,
    versions: ALL_VERSIONS,
    domains: PV,
    restorable: true,
    decode(body, ctx) {
      const v = dataView(body);
      if (v.getUint32(4, ctx.littleEndian) !== 0) ctx.fail("reserved-bits", "zero reserved word after vcpu_id");
      return { vcpuId: v.getUint32(0, ctx.littleEndian), context: body.subarray(8) };
    },
    encode(f, ctx) {
      return new ByteBuilder(8 + f.context.length, ctx.littleEndian).u32(f.vcpuId).skip(4).raw(f.context).bytes;
    },
  });

/** Checks a pfn entry array and counts the entries that carry a page of data. */
export function decodePfnEntries(
  bytes: Uint8Array,
  count: number,
  ctx: CodecContext,
): { pfns: PfnEntry[]; dataPages: number } {
  const v = dataView(bytes);
  const le = ctx.littleEndian;
  const pfns: PfnEntry[] = new Array(count);
  let dataPages = 0;
  for (let i = 0; i < count; i++) {
    const lo = v.getUint32(i * 8 + (le ? 0 : 4), le);
    const hi = v.getUint32(i * 8 + (le ? 4 : 0), le);
    const type = hi >>> 28;
    if ((hi >>> 20) & 0xff) ctx.fail("reserved-bits", `zero bits 59-52 in pfn[${i}]`, hex(hi, 8));
    if (!isValidPageType(type)) ctx.fail("bad-value", `a known page type in pfn[${i}]`, hex(type, 1));
    if (pageTypeHasData(type)) dataPages++;
    pfns[i] = { pfn: (hi & 0xfffff) * 0x1_0000_0000 + lo, type };
  }
  return { pfns, dataPages };
}

/** The count word and pfn array that open a PAGE_DATA body. */
export function encodePageDataHead(
  pfns: readonly PfnEntry[],
  ctx: CodecContext,
): { head: Uint8Array; dataPages: number } {
  if (pfns.length === 0) ctx.fail("bad-value", "at least one pfn in PAGE_DATA");
  const b = new ByteBuilder(SIZES.pageDataHeader + pfns.length * SIZES.pfnEntry, ctx.littleEndian);
  b.u32(pfns.length).skip(4);
  let dataPages = 0;
  for (const [i, e] of pfns.entries()) {
    if (!Number.isSafeInteger(e.pfn) || e.pfn < 0 || e.pfn >= 2 ** PFN_BITS)
      ctx.fail("bad-value", `a 52-bit pfn in pfn[${i}]`, String(e.pfn));
    if (!isValidPageType(e.type)) ctx.fail("bad-value", `a known page type in pfn[${i}]`, String(e.type));
    if (pageTypeHasData(e.type)) dataPages++;
    b.u64((BigInt(e.type) << 60n) | BigInt(e.pfn));
  }
  return { head: b.bytes, dataPages };
}

export function pageDataLength(count: number, dataPages: number): number {
  return SIZES.pageDataHeader + count * SIZES.pfnEntry + dataPages * PAGE_SIZE;
}

/** Checks the 8-byte PAGE_DATA count word; returns the count. */
export function decodePageDataCount(head: Uint8Array, bodyLength: number, ctx: CodecContext): number {
  const v = dataView(head);
  const count = v.getUint32(0, ctx.littleEndian);
  if (v.getUint32(4, ctx.littleEndian) !== 0) ctx.fail("reserved-bits", "zero reserved word after count");
  if (count === 0) ctx.fail("bad-value", "count > 0");
  if (SIZES.pageDataHeader + count * SIZES.pfnEntry > bodyLength) {
    ctx.fail("bad-length", `room for ${count} pfn entries`, `body_length ${bodyLength}`);
  }
  return count;
}

const PAGE_DATA = spec<PageDataFields>({
  layer: "libxc",
  type: 0x01,
  name: "PAGE_DATA",
  minLength: SIZES.pageDataHeader + SIZES.pfnEntry,
  maxLength: REC_LENGTH_MAX,
  versions: ALL_VERSIONS,
  restorable: true,
  decode(body, ctx) {
    const count = decodePageDataCount(body, body.length, ctx);
    const pfnEnd = SIZES.pageDataHeader + count * SIZES.pfnEntry;
    const { pfns, dataPages } = decodePfnEntries(body.subarray(SIZES.pageDataHeader, pfnEnd), count, ctx);
    const expected = pageDataLength(count, dataPages);
    if (body.length !== expected)
      ctx.fail("bad-length", `body_length ${expected} for ${count} pfns with ${dataPages} pages`, String(body.length));
    const pages: Uint8Array[] = [];
    for (let at = pfnEnd; at < body.length; at += PAGE_SIZE) pages.push(body.subarray(at, at + PAGE_SIZE));
    return { pfns, pages };
  },
  encode(f, ctx) {
    const { head, dataPages } = encodePageDataHead(f.pfns, ctx);
    if (f.pages.length !== dataPages)
      ctx.fail("bad-value", `${dataPages} pages for the pfns given`, String(f.pages.length));
    const b = new ByteBuilder(head.length + dataPages * PAGE_SIZE, ctx.littleEndian).raw(head);
    for (const page of f.pages) {
      if (page.length !== PAGE_SIZE) ctx.fail("bad-length", `${PAGE_SIZE}-byte pages`, String(page.length));
      b.raw(page);
    }
    return b.bytes;
  },
});

export interface X86PvInfoFields {
  guestWidth: number;
  ptLevels: number;
}

export interface P2mFramesFields {
  startPfn: number;
  endPfn: number;
  frames: bigint[];
}

export interface TscInfoFields {
  mode: number;
  khz: number;
  nsec: bigint;
  incarnation: number;
}

export interface HvmParam {
  index: bigint;
  value: bigint;
}

/** xen_cpuid_leaf_t */
export interface CpuidLeaf {
  leaf: number;
  subleaf: number;
  a: number;
  b: number;
  c: number;
  d: number;
}

/** xen_msr_entry_t */
export interface MsrEntry {
  index: number;
  flags: number;
  value: bigint;
}

function u64Array(body: Uint8Array, from: number, le: boolean): bigint[] {
  const v = dataView(body);
  const out: bigint[] = [];
  for (let at = from; at + 8 <= body.length; at += 8) out.push(v.getBigUint64(at, le));
  return out;
}

export const LIBXC_RECORDS = {
  END: empty("libxc", 0x00, "END"),
  PAGE_DATA,
  X86_PV_INFO: spec<X86PvInfoFields>({
    layer: "libxc",
    type: 0x02,
    name: "X86_PV_INFO",
    minLength: 8,
    maxLength: 8,
    versions: ALL_VERSIONS,
    domains: PV,
    staticData: true,
    restorable: true,
    decode(body, ctx) {
      const v = dataView(body);
      const f = { guestWidth: v.getUint8(0), ptLevels: v.getUint8(1) };
      if (v.getUint16(2, ctx.littleEndian) !== 0 || v.getUint32(4, ctx.littleEndian) !== 0)
        ctx.fail("reserved-bits", "zero reserved fields");
      checkPvInfo(f, ctx);
      return f;
    },
    encode(f, ctx) {
      checkPvInfo(f, ctx);
      return new ByteBuilder(8, ctx.littleEndian).u8(f.guestWidth).u8(f.ptLevels).bytes;
    },
  }),
  X86_PV_P2M_FRAMES: spec<P2mFramesFields>({
    layer: "libxc",
    type: 0x03,
    name: "X86_PV_P2M_FRAMES",
    minLength: 8,
    maxLength: REC_LENGTH_MAX,
    versions: ALL_VERSIONS,
    domains: PV,
    restorable: true,
    decode(body, ctx) {
      if (body.length % 8 !== 0) ctx.fail("bad-length", "a multiple of 8", String(body.length));
      const v = dataView(body);
      return {
        startPfn: v.getUint32(0, ctx.littleEndian),
        endPfn: v.getUint32(4, ctx.littleEndian),
        frames: u64Array(body, 8, ctx.littleEndian),
      };
    },
    encode(f, ctx) {
      const b = new ByteBuilder(8 + f.frames.length * 8, ctx.littleEndian).u32(f.startPfn).u32(f.endPfn);
      for (const frame of f.frames) b.u64(frame);
      return b.bytes;
    },
  }),
  X86_PV_VCPU_BASIC: vcpu(0x04, "X86_PV_VCPU_BASIC"),
  X86_PV_VCPU_EXTENDED: vcpu(0x05, "X86_PV_VCPU_EXTENDED"),
  X86_PV_VCPU_XSAVE: vcpu(0x06, "X86_PV_VCPU_XSAVE"),
  SHARED_INFO: blob(0x07, "SHARED_INFO", PAGE_SIZE, { maxLength: PAGE_SIZE, domains: PV }),
  X86_TSC_INFO: spec<TscInfoFields>({
    layer: "libxc",
    type: 0x08,
    name: "X86_TSC_INFO",
    minLength: 24,
    maxLength: 24,
    versions: ALL_VERSIONS,
    restorable: true,
    decode(body, ctx) {
      const v = dataView(body);
      const le = ctx.littleEndian;
      if (v.getUint32(20, le) !== 0) ctx.fail("reserved-bits", "zero reserved word after incarnation");
      return {
        mode: v.getUint32(0, le),
        khz: v.getUint32(4, le),
        nsec: v.getBigUint64(8, le),
        incarnation: v.getUint32(16, le),
      };
    },
    encode(f, ctx) {
      return new ByteBuilder(24, ctx.littleEndian).u32(f.mode).u32(f.khz).u64(f.nsec).u32(f.incarnation).bytes;
    },
  }),
  HVM_CONTEXT: blob(0x09, "HVM_CONTEXT", 1, { domains: HVM }),
  HVM_PARAMS: spec<{ params: HvmParam[] }>({
    layer: "libxc",
    type: 0x0a,
    name: "HVM_PARAMS",
    minLength: 8,
    maxLength: REC_LENGTH_MAX,
    versions: ALL_VERSIONS,
    domains: HVM,
    restorable: true,
    decode(body, ctx) {
      const v = dataView(body);
      const le = ctx.littleEndian;
      const count = v.getUint32(0, le);
      if (v.getUint32(4, le) !== 0) ctx.fail("reserved-bits", "zero reserved word after count");
      if (body.length !== 8 + count * 16)
        ctx.fail("bad-length", `${8 + count * 16} bytes for ${count} params`, String(body.length));
      const params: HvmParam[] = [];
      for (let at = 8; at < body.length; at += 16)
        params.push({ index: v.getBigUint64(at, le), value: v.getBigUint64(at + 8, le) });
      return { params };
    },
    encode(f, ctx) {
      const b = new ByteBuilder(8 + f.params.length * 16, ctx.littleEndian).u32(f.params.length).skip(4);
      for (const p of f.params) b.u64(p.index).u64(p.value);
      return b.bytes;
    },
  }),
  // Deprecated since Xen 4.7; Xen's restore refuses it.
  TOOLSTACK: blob(0x0b, "TOOLSTACK", 0, { restorable: false }),
  X86_PV_VCPU_MSRS: vcpu(0x0c, "X86_PV_VCPU_MSRS"),
  VERIFY: empty("libxc", 0x0d, "VERIFY"),
  CHECKPOINT: empty("libxc", 0x0e, "CHECKPOINT"),
  // Only sent on the COLO back channel (secondary to primary), never in a save stream.
  CHECKPOINT_DIRTY_PFN_LIST: spec<{ pfns: bigint[] }>({
    layer: "libxc",
    type: 0x0f,
    name: "CHECKPOINT_DIRTY_PFN_LIST",
    minLength: 0,
    maxLength: REC_LENGTH_MAX,
    versions: ALL_VERSIONS,
    restorable: false,
    decode(body, ctx) {
      if (body.length % 8 !== 0) ctx.fail("bad-length", "a multiple of 8", String(body.length));
      return { pfns: u64Array(body, 0, ctx.littleEndian) };
    },
    encode(f, ctx) {
      const b = new ByteBuilder(f.pfns.length * 8, ctx.littleEndian);
      for (const pfn of f.pfns) b.u64(pfn);
      return b.bytes;
    },
  }),
  STATIC_DATA_END: empty("libxc", 0x10, "STATIC_DATA_END", { versions: V3_ONLY }),
  X86_CPUID_POLICY: spec<{ leaves: CpuidLeaf[] }>({
    layer: "libxc",
    type: 0x11,
    name: "X86_CPUID_POLICY",
    minLength: 24,
    maxLength: REC_LENGTH_MAX,
    versions: V3_ONLY,
    staticData: true,
    restorable: true,
    decode(body, ctx) {
      if (body.length % 24 !== 0) ctx.fail("bad-length", "a multiple of 24 (xen_cpuid_leaf_t)", String(body.length));
      const v = dataView(body);
      const le = ctx.littleEndian;
      const leaves: CpuidLeaf[] = [];
      for (let at = 0; at < body.length; at += 24) {
        leaves.push({
          leaf: v.getUint32(at, le),
          subleaf: v.getUint32(at + 4, le),
          a: v.getUint32(at + 8, le),
          b: v.getUint32(at + 12, le),
          c: v.getUint32(at + 16, le),
          d: v.getUint32(at + 20, le),
        });
      }
      return { leaves };
    },
    encode(f, ctx) {
      if (f.leaves.length === 0) ctx.fail("bad-length", "at least one CPUID leaf");
      const b = new ByteBuilder(f.leaves.length * 24, ctx.littleEndian);
      for (const l of f.leaves) b.u32(l.leaf).u32(l.subleaf).u32(l.a).u32(l.b).u32(l.c).u32(l.d);
      return b.bytes;
    },
  }),
  X86_MSR_POLICY: spec<{ entries: MsrEntry[] }>({
    layer: "libxc",
    type: 0x12,
    name: "X86_MSR_POLICY",
    minLength: 16,
    maxLength: REC_LENGTH_MAX,
    versions: V3_ONLY,
    staticData: true,
    restorable: true,
    decode(body, ctx) {
      if (body.length % 16 !== 0) ctx.fail("bad-length", "a multiple of 16 (xen_msr_entry_t)", String(body.length));
      const v = dataView(body);
      const le = ctx.littleEndian;
      const entries: MsrEntry[] = [];
      for (let at = 0; at < body.length; at += 16) {
        entries.push({ index: v.getUint32(at, le), flags: v.getUint32(at + 4, le), value: v.getBigUint64(at + 8, le) });
      }
      return { entries };
    },
    encode(f, ctx) {
      if (f.entries.length === 0) ctx.fail("bad-length", "at least one MSR entry");
      const b = new ByteBuilder(f.entries.length * 16, ctx.littleEndian);
      for (const e of f.entries) b.u32(e.index).u32(e.flags).u64(e.value);
      return b.bytes;
    },
  }),
} as const;

function checkPvInfo(f: X86PvInfoFields, ctx: CodecContext): void {
  if (f.guestWidth !== 4 && f.guestWidth !== 8) ctx.fail("bad-value", "guest_width 4 or 8", String(f.guestWidth));
  if (f.ptLevels !== 3 && f.ptLevels !== 4) ctx.fail("bad-value", "pt_levels 3 or 4", String(f.ptLevels));
}

export interface EmulatorFields {
  emulatorId: number;
  index: number;
}

function emulatorHeader(body: Uint8Array, ctx: CodecContext): EmulatorFields {
  const v = dataView(body);
  const f = { emulatorId: v.getUint32(0, ctx.littleEndian), index: v.getUint32(4, ctx.littleEndian) };
  checkEmulator(f, ctx);
  return f;
}

function checkEmulator(f: EmulatorFields, ctx: CodecContext): void {
  if (f.emulatorId > 2)
    ctx.fail("bad-value", "emulator_id 0 (unknown), 1 (qemu-traditional) or 2 (qemu-upstream)", String(f.emulatorId));
}

/** Xenstore keys and values are NUL-terminated byte strings; latin1 keeps any byte as one character so they round-trip. */
const LATIN1 = "latin1";

export const LIBXL_RECORDS = {
  END: empty("libxl", 0x00, "END"),
  LIBXC_CONTEXT: empty("libxl", 0x01, "LIBXC_CONTEXT"),
  EMULATOR_XENSTORE_DATA: spec<EmulatorFields & { entries: [string, string][] }>({
    layer: "libxl",
    type: 0x02,
    name: "EMULATOR_XENSTORE_DATA",
    minLength: 8,
    maxLength: REC_LENGTH_MAX,
    versions: ALL_VERSIONS,
    restorable: true,
    decode(body, ctx) {
      const head = emulatorHeader(body, ctx);
      const data = body.subarray(8);
      const entries: [string, string][] = [];
      if (data.length > 0) {
        if (data[data.length - 1] !== 0) ctx.fail("bad-value", "key/value data ending with NUL");
        const parts = Buffer.from(data.buffer, data.byteOffset, data.length - 1)
          .toString(LATIN1)
          .split("\0");
        if (parts.length % 2 !== 0)
          ctx.fail("bad-value", "an even number of NUL-terminated strings", String(parts.length));
        for (let i = 0; i < parts.length; i += 2) entries.push([parts[i]!, parts[i + 1]!]);
      }
      return { ...head, entries };
    },
    encode(f, ctx) {
      checkEmulator(f, ctx);
      let text = "";
      for (const [key, value] of f.entries) {
        if (key.includes("\0") || value.includes("\0")) ctx.fail("bad-value", "xenstore keys and values without NUL");
        text += key + "\0" + value + "\0";
      }
      const data = Buffer.from(text, LATIN1);
      return new ByteBuilder(8 + data.length, ctx.littleEndian).u32(f.emulatorId).u32(f.index).raw(data).bytes;
    },
  }),
  EMULATOR_CONTEXT: spec<EmulatorFields & { data: Uint8Array }>({
    layer: "libxl",
    type: 0x03,
    name: "EMULATOR_CONTEXT",
    minLength: 8,
    maxLength: REC_LENGTH_MAX,
    versions: ALL_VERSIONS,
    restorable: true,
    decode: (body, ctx) => ({ ...emulatorHeader(body, ctx), data: body.subarray(8) }),
    encode(f, ctx) {
      checkEmulator(f, ctx);
      return new ByteBuilder(8 + f.data.length, ctx.littleEndian).u32(f.emulatorId).u32(f.index).raw(f.data).bytes;
    },
  }),
  CHECKPOINT_END: empty("libxl", 0x04, "CHECKPOINT_END"),
  // The C struct is one u32; the spec's drawing adds a u32 of padding.
  CHECKPOINT_STATE: spec<{ controlId: number }>({
    layer: "libxl",
    type: 0x05,
    name: "CHECKPOINT_STATE",
    minLength: 4,
    maxLength: 8,
    versions: ALL_VERSIONS,
    restorable: true,
    decode(body, ctx) {
      if (body.length !== 4 && body.length !== 8) ctx.fail("bad-length", "4 or 8 bytes", String(body.length));
      if (!isAllZero(body.subarray(4))) ctx.fail("reserved-bits", "zero padding after control_id");
      return { controlId: dataView(body).getUint32(0, ctx.littleEndian) };
    },
    encode: (f, ctx) => new ByteBuilder(4, ctx.littleEndian).u32(f.controlId).bytes,
  }),
} as const;

type FieldsOf<S> = S extends RecordSpec<infer F> ? F : never;
export type LibxcRecordName = keyof typeof LIBXC_RECORDS;
export type LibxlRecordName = keyof typeof LIBXL_RECORDS;
export type LibxcFields = { [K in LibxcRecordName]: FieldsOf<(typeof LIBXC_RECORDS)[K]> };
export type LibxlFields = { [K in LibxlRecordName]: FieldsOf<(typeof LIBXL_RECORDS)[K]> };
/**
 * Fields of a record type the reader does not know (optional records only):
 * none. Its body follows as "record-data" events, handed on unread.
 */
export type UnknownFields = Record<string, never>;

// biome-ignore lint/suspicious/noExplicitAny: the table holds specs of every record type
type AnySpec = RecordSpec<any>;

function byType(table: Record<string, AnySpec>): Map<number, AnySpec> {
  return new Map(Object.values(table).map((s) => [s.type, s]));
}

const LIBXC_BY_TYPE = byType(LIBXC_RECORDS);
const LIBXL_BY_TYPE = byType(LIBXL_RECORDS);

export function recordSpec(layer: "libxc" | "libxl", type: number): AnySpec | undefined {
  return (layer === "libxc" ? LIBXC_BY_TYPE : LIBXL_BY_TYPE).get(type);
}

export function isOptionalType(type: number): boolean {
  return (type & REC_TYPE_OPTIONAL) !== 0;
}

/** A record's name for messages: its table name, or its type in hex. */
export function recordName(layer: "libxc" | "libxl", type: number): string {
  return recordSpec(layer, type)?.name ?? (isOptionalType(type) ? `optional ${hex(type)}` : `unknown ${hex(type)}`);
}

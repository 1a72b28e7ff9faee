/**
 * Writes legacy (pre-v2) save streams of synthetic domains, for tests and
 * demos: what xc_domain_save() in Xen 4.5 and earlier wrote for a non-live
 * save, optionally behind the xl header xl wrote. Layout reference:
 * legacy.py and xc_domain_save.c (see layout.ts).
 *
 * The content is made up (seeded, deterministic) but the structure is the
 * real one: p2m_size, PV extended info and p2m frame list, TSC chunk, page
 * batches (page-table types, XTAB padding for pfn 0, data-less types),
 * VCPU_INFO, HVM parameter chunks, libxl toolstack chunk, LAST_CHECKPOINT,
 * end marker, then the PV or HVM tail and the device-model record.
 */
import { ByteBuilder } from "../bytes.js";
import { XL_BYTEORDER_VALUE, XL_MAGIC, XL_MANDATORY_FLAG_JSON } from "../layout.js";
import {
  Chunk,
  HVM_PARAM_CHUNKS,
  type LegacyGuest,
  MAX_BATCH,
  PAGE_SIZE,
  PFINFO_XTAB,
  PFN_TYPE_SHIFT,
  QEMU_SIGNATURE_V2,
  type ToolstackWidth,
  VCPU_CONTEXT_32,
  VCPU_CONTEXT_64,
  VCPU_EXTENDED_SIZE,
  XSAVE_HEAD,
} from "./layout.js";

export interface PhysmapEntry {
  physOffset: bigint;
  startAddr: bigint;
  size: bigint;
  name: string;
}

export interface LegacyImageOptions {
  width: ToolstackWidth;
  guest: LegacyGuest;
  /** PV guest word size: 8 (64-bit, 4-level page tables, default) or 4 (32-bit PAE, 3 levels). */
  guestWidth?: 4 | 8;
  /** Guest pages with data, pfns 0..pages-1 (default 40). */
  pages?: number;
  /** Default: room for the pages, a few data-less pfns and (HVM) the magic pfns. */
  p2mSize?: number;
  /** Pages per batch (default 1024, the saver's maximum). */
  batchSize?: number;
  /** Online vcpu ids (default [0, 1]). */
  vcpus?: readonly number[];
  /** PV: send the 128-byte extended vcpu context ("extv", default true). */
  extendedVcpu?: boolean;
  /** PV: per-vcpu xsave size announced by an "xcnt" block, including its 16-byte head (default 0: none). */
  xsaveSize?: number;
  /** Write a TSC_INFO chunk (default true). */
  tsc?: boolean;
  /** HVM: write one chunk per HVM parameter chunk type (default true). */
  hvmParams?: boolean;
  /** HVM: ioreq, buffered ioreq and store pfns (default: the last three pfns). */
  magicPfns?: [bigint, bigint, bigint];
  /** HVM: libxl physmap entries for a TOOLSTACK chunk (default none). */
  toolstack?: readonly PhysmapEntry[];
  /** HVM: qemu save state for the device-model record; null writes no record. Default: 777 bytes. */
  qemu?: Uint8Array | null;
  /** HVM context size (default 1001). */
  hvmContextSize?: number;
  /** PV: count of "unmapped" pfns in the tail (default 2). */
  unmapped?: number;
  /** Write no chunks at all before the end marker (no TSC, pages, VCPU_INFO, ...); the saver never does. */
  emptyBody?: boolean;
  /** Wrap in an xl header carrying this domain config (JSON). */
  xl?: { config: unknown };
  seed?: number;
}

class Rng {
  constructor(private state: number) {
    if (this.state === 0) this.state = 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.next();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  }
}

/** Writes fields little-endian into a growing list of chunks. */
class Out {
  readonly chunks: Uint8Array[] = [];
  constructor(private readonly width: ToolstackWidth) {}
  raw(bytes: Uint8Array): this {
    this.chunks.push(bytes);
    return this;
  }
  u32(v: number): this {
    return this.raw(new ByteBuilder(4, true).u32(v).bytes);
  }
  i32(v: number): this {
    return this.u32(v >>> 0);
  }
  u64(v: bigint): this {
    return this.raw(new ByteBuilder(8, true).u64(v).bytes);
  }
  ulong(v: number | bigint): this {
    return this.width === 32 ? this.u32(Number(BigInt.asUintN(32, BigInt(v)))) : this.u64(BigInt(v));
  }
}

/** Page-table types for the first pfns of a PV guest, top level pinned, as the saver reports them. */
function pvPageTypes(levels: 3 | 4): number[] {
  return levels === 4 ? [0xc, 0x3, 0x2, 0x1, 0x1] : [0xb, 0x2, 0x1, 0x1];
}

export function writeLegacyStream(options: LegacyImageOptions): Uint8Array {
  const { width, guest } = options;
  const pv = guest === "pv";
  const rng = new Rng(options.seed ?? 1);
  const pages = options.pages ?? 40;
  const guestWidth = options.guestWidth ?? 8;
  const levels = guestWidth === 8 ? 4 : 3;
  // Two data-less pfns (BROKEN, XALLOC) follow the data pages; HVM adds three magic pfns.
  const p2mSize = options.p2mSize ?? pages + 2 + (pv ? 0 : 3);
  const vcpus = options.vcpus ?? [0, 1];
  const out = new Out(width);

  if (options.xl) {
    const config = new TextEncoder().encode(JSON.stringify(options.xl.config) + "\0");
    out
      .raw(XL_MAGIC)
      .u32(XL_BYTEORDER_VALUE)
      .u32(XL_MANDATORY_FLAG_JSON)
      .u32(0)
      .u32(4 + config.length)
      .u32(config.length)
      .raw(config);
  }

  out.ulong(p2mSize);
  if (pv) {
    const vcpuSize = guestWidth === 8 ? VCPU_CONTEXT_64 : VCPU_CONTEXT_32;
    const blocks: Uint8Array[] = [blockOf("vcpu", rng.bytes(vcpuSize))];
    if (options.extendedVcpu ?? true) blocks.push(blockOf("extv", new Uint8Array(0)));
    if (options.xsaveSize) blocks.push(blockOf("xcnt", new ByteBuilder(8, true).u32(options.xsaveSize).bytes));
    out.ulong(width === 32 ? 0xffff_ffff : 0xffff_ffff_ffff_ffffn).u32(blocks.reduce((n, b) => n + b.length, 0));
    for (const b of blocks) out.raw(b);
    const frames = Math.floor((p2mSize - 1) / (PAGE_SIZE / guestWidth)) + 1;
    for (let i = 0; i < frames; i++) out.ulong(0x10000 + (rng.next() % 0x100000));
  }

  const body = !options.emptyBody;
  if (body && (options.tsc ?? true)) {
    out
      .i32(Chunk.TSC_INFO)
      .u32(1)
      .u64(BigInt(rng.next()) * 1000n)
      .u32(2_400_000)
      .u32(3);
  }

  // Page entries: an XTAB pad for pfn 0 first (as the saver leaves them),
  // pfns 1..pages-1, two data-less pfns, and pfn 0's data last.
  const types = pv ? pvPageTypes(levels) : [];
  const entries: number[] = [];
  if (body && pages > 0) entries.push(PFINFO_XTAB * 2 ** PFN_TYPE_SHIFT);
  for (let pfn = 1; body && pfn < pages; pfn++) entries.push((types[pfn - 1] ?? 0) * 2 ** PFN_TYPE_SHIFT + pfn);
  if (body && pages > 0) entries.push(0xd * 2 ** PFN_TYPE_SHIFT + pages, 0xe * 2 ** PFN_TYPE_SHIFT + pages + 1, 0);
  const batchSize = Math.min(options.batchSize ?? MAX_BATCH, MAX_BATCH);
  for (let i = 0; i < entries.length; i += batchSize) {
    const batch = entries.slice(i, i + batchSize);
    // A batch of nothing but pfn 0's XTAB pad is never written.
    if (batch.every((e) => e === PFINFO_XTAB * 2 ** PFN_TYPE_SHIFT)) continue;
    out.i32(batch.length);
    for (const e of batch) out.ulong(e);
    for (const e of batch) {
      if (e >>> PFN_TYPE_SHIFT >= 0xd) continue;
      out.raw((e & 0xfffffff) % 5 === 4 ? new Uint8Array(PAGE_SIZE) : rng.bytes(PAGE_SIZE));
    }
  }

  const maxVcpuId = Math.max(0, ...vcpus);
  const bitmap = new ByteBuilder((Math.floor(maxVcpuId / 64) + 1) * 8, true);
  const words = new Array<bigint>(Math.floor(maxVcpuId / 64) + 1).fill(0n);
  for (const id of vcpus) words[Math.floor(id / 64)] = words[Math.floor(id / 64)]! | (1n << BigInt(id % 64));
  for (const w of words) bitmap.u64(w);
  if (body) out.i32(Chunk.VCPU_INFO).i32(maxVcpuId).raw(bitmap.bytes);

  if (body && !pv && (options.hvmParams ?? true)) {
    for (const chunk of HVM_PARAM_CHUNKS.keys())
      out
        .i32(chunk)
        .u32(0)
        .u64(BigInt(0xfc000 + -chunk));
  }
  if (body && !pv && options.toolstack) {
    const body = toolstackData(options.toolstack, width);
    out.i32(Chunk.TOOLSTACK).u32(body.length).raw(body);
  }
  if (body) out.i32(Chunk.LAST_CHECKPOINT);
  out.i32(Chunk.END);

  if (pv) {
    const unmapped = options.unmapped ?? 2;
    out.u32(unmapped);
    for (let i = 0; i < unmapped; i++) out.ulong(p2mSize - 1 - i);
    const vcpuSize = guestWidth === 8 ? VCPU_CONTEXT_64 : VCPU_CONTEXT_32;
    for (const _ of vcpus) {
      out.raw(rng.bytes(vcpuSize));
      if (options.extendedVcpu ?? true) out.raw(rng.bytes(VCPU_EXTENDED_SIZE));
      if (options.xsaveSize)
        out
          .u64(0x7n)
          .u64(BigInt(options.xsaveSize - XSAVE_HEAD))
          .raw(rng.bytes(options.xsaveSize - XSAVE_HEAD));
    }
    out.raw(rng.bytes(PAGE_SIZE));
  } else {
    const [ioreq, bufioreq, store] = options.magicPfns ?? [
      BigInt(p2mSize - 3),
      BigInt(p2mSize - 2),
      BigInt(p2mSize - 1),
    ];
    out.u64(ioreq).u64(bufioreq).u64(store);
    const context = rng.bytes(options.hvmContextSize ?? 1001);
    out.u32(context.length).raw(context);
    const qemu = options.qemu === undefined ? rng.bytes(777) : options.qemu;
    if (qemu !== null) out.raw(new TextEncoder().encode(QEMU_SIGNATURE_V2)).u32(qemu.length).raw(qemu);
  }
  return Buffer.concat(out.chunks);
}

function blockOf(id: string, data: Uint8Array): Uint8Array {
  return new ByteBuilder(8 + data.length, true).raw(new TextEncoder().encode(id)).u32(data.length).raw(data).bytes;
}

/** libxl's toolstack chunk v1; a 64-bit libxl leaves 4 bytes of padding after each name. */
function toolstackData(entries: readonly PhysmapEntry[], width: ToolstackWidth): Uint8Array {
  const parts: Uint8Array[] = [new ByteBuilder(8, true).u32(1).u32(entries.length).bytes];
  for (const e of entries) {
    const name = Buffer.from(e.name + "\0", "latin1");
    parts.push(new ByteBuilder(28, true).u64(e.physOffset).u64(e.startAddr).u64(e.size).u32(name.length).bytes, name);
    if (width === 64) parts.push(new Uint8Array(4));
  }
  return Buffer.concat(parts);
}

/**
 * A synthetic domain written as a complete, valid stream, for tests,
 * benchmarks and demos. The record layout follows the spec's typical save
 * records (libxc-migration-stream.html 5.1 x86 PV Guest, 5.2 x86 HVM Guest).
 * Same options, same bytes.
 */
import type { Layer } from "./errors.js";
import {
  type ByteOrder,
  type DomainTypeName,
  type LibxcVersion,
  MAX_BATCH_SIZE,
  PAGE_SIZE,
  PageType,
} from "./layout.js";
import type { CpuidLeaf, MsrEntry, PfnEntry } from "./records.js";
import { type ByteSink, StreamWriter } from "./writer.js";

export interface SampleOptions {
  domainType?: DomainTypeName;
  /** Pages of memory carrying data (default 64). */
  pages?: number;
  byteOrder?: ByteOrder;
  libxcVersion?: LibxcVersion;
  layers?: Layer;
  seed?: number;
  /** PFNs per PAGE_DATA record (default and maximum 1024, as Xen). */
  batchSize?: number;
  vcpus?: number;
}

/** Every 16th page is all zeroes; the others are filled from a PRNG seeded by (seed, pfn). */
export function samplePage(seed: number, pfn: number, into: Uint8Array = new Uint8Array(PAGE_SIZE)): Uint8Array {
  if (pfn % 16 === 5) {
    into.fill(0);
    return into;
  }
  const words = new Uint32Array(into.buffer, into.byteOffset, PAGE_SIZE / 4);
  let x = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(pfn + 1, 0xc2b2ae35)) | 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return into;
}

/** PV page-table type bits on a few pages, as a real PV guest has. */
export function samplePageType(domainType: DomainTypeName, pfn: number): number {
  if (domainType !== "x86-pv") return PageType.NOTAB;
  if (pfn === 4) return PageType.L4TAB_PIN;
  if (pfn === 3) return PageType.L3TAB;
  if (pfn % 4096 === 2) return PageType.L2TAB;
  if (pfn % 512 === 1) return PageType.L1TAB;
  return PageType.NOTAB;
}

function blob(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    out[i] = x >>> 24;
  }
  return out;
}

const CPUID: CpuidLeaf[] = [
  { leaf: 0, subleaf: 0xffffffff, a: 0xd, b: 0x756e6547, c: 0x6c65746e, d: 0x49656e69 },
  { leaf: 1, subleaf: 0xffffffff, a: 0x906ea, b: 0x800, c: 0xfffa3203, d: 0x178bfbff },
  { leaf: 7, subleaf: 0, a: 0, b: 0x9c2fbb, c: 0, d: 0xbc000400 },
];
const MSRS: MsrEntry[] = [
  { index: 0xce, flags: 0, value: 0x80000000n },
  { index: 0x10a, flags: 0, value: 0n },
];

export async function writeSampleStream(sink: ByteSink, options: SampleOptions = {}): Promise<{ bytes: number }> {
  const domainType = options.domainType ?? "x86-hvm";
  const pages = options.pages ?? 64;
  const seed = options.seed ?? 1;
  const version = options.libxcVersion ?? 3;
  const batch = Math.min(options.batchSize ?? MAX_BATCH_SIZE, MAX_BATCH_SIZE);
  const vcpus = options.vcpus ?? 2;
  const layers = options.layers ?? "xl";
  const pv = domainType === "x86-pv";
  const w = new StreamWriter(sink, {
    layers,
    byteOrder: options.byteOrder ?? "little",
    libxcVersion: version,
    domainType,
    xenMajor: 4,
    xenMinor: 17,
    config: {
      c_info: {
        type: pv ? "pv" : "hvm",
        name: `sample-${seed}`,
        uuid: "00000000-0000-4000-8000-" + String(seed).padStart(12, "0"),
      },
      b_info: {
        max_vcpus: vcpus,
        max_memkb: Math.max(1, Math.ceil((pages * PAGE_SIZE) / 1024)),
        target_memkb: Math.ceil((pages * PAGE_SIZE) / 1024),
      },
    },
  });
  await w.begin();

  // Static data.
  if (pv) await w.libxc("X86_PV_INFO", { guestWidth: 8, ptLevels: 4 });
  if (version >= 3) {
    await w.libxc("X86_CPUID_POLICY", { leaves: CPUID });
    await w.libxc("X86_MSR_POLICY", { entries: MSRS });
    await w.libxc("STATIC_DATA_END", {});
  }
  if (pv) {
    // A 64-bit guest's p2m holds 512 entries per frame; the frames sit at the top of memory.
    const frames = Math.max(1, Math.ceil(pages / 512));
    await w.libxc("X86_PV_P2M_FRAMES", {
      startPfn: 0,
      endPfn: Math.max(0, pages - 1),
      frames: Array.from({ length: frames }, (_, i) => BigInt(pages + i)),
    });
  }

  // Memory, in batches like Xen's; the last batch also carries an invalid (XTAB) pfn with no data.
  for (let first = 0; first < pages; first += batch) {
    const count = Math.min(batch, pages - first);
    // A fresh buffer per batch: a sink may still hold the previous one.
    const buffer = new Uint8Array(count * PAGE_SIZE);
    const pfns: PfnEntry[] = [];
    const views: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const pfn = first + i;
      pfns.push({ pfn, type: samplePageType(domainType, pfn) });
      views.push(samplePage(seed, pfn, buffer.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE)));
    }
    if (first + count >= pages && count < batch) pfns.push({ pfn: pages + 0x100000, type: PageType.XTAB });
    await w.pageData(pfns, views);
  }

  await w.libxc("X86_TSC_INFO", { mode: 0, khz: 2_400_000, nsec: 123_456_789n * BigInt(seed), incarnation: 1 });
  if (pv) {
    await w.libxc("SHARED_INFO", { data: blob(seed + 7, PAGE_SIZE) });
    for (let vcpuId = 0; vcpuId < vcpus; vcpuId++) {
      await w.libxc("X86_PV_VCPU_BASIC", { vcpuId, context: blob(seed + vcpuId, 5168) });
      await w.libxc("X86_PV_VCPU_EXTENDED", { vcpuId, context: blob(seed + vcpuId + 100, 128) });
      await w.libxc("X86_PV_VCPU_XSAVE", { vcpuId, context: blob(seed + vcpuId + 200, 852) });
      await w.libxc("X86_PV_VCPU_MSRS", { vcpuId, context: blob(seed + vcpuId + 300, 32) });
    }
  } else {
    await w.libxc("HVM_PARAMS", {
      params: [
        { index: 1n, value: 0xfeffcn }, // HVM_PARAM_STORE_PFN
        { index: 17n, value: 0xfefffn }, // HVM_PARAM_CONSOLE_PFN
        { index: 12n, value: 0xfeffd000n }, // HVM_PARAM_IDENT_PT
      ],
    });
    await w.libxc("HVM_CONTEXT", { data: blob(seed + 11, 3021) });
  }
  await w.endLibxc();

  if (layers !== "libxc" && !pv) {
    // Xen 4.17's verify-stream-v2 cannot check key/value pairs here (a Python 3 bug), so none are written.
    await w.libxl("EMULATOR_XENSTORE_DATA", { emulatorId: 2, index: 0, entries: [] });
    await w.libxl("EMULATOR_CONTEXT", { emulatorId: 2, index: 0, data: blob(seed + 13, 777) });
  }
  await w.end();
  return { bytes: w.bytesWritten };
}

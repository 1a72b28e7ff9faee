import { PageType } from "@xenfleet/format";
import type { DomainType } from "../hypervisor.js";
import { Prng } from "./prng.js";
import type { Platform, PlatformRecord } from "./platform.js";

/**
 * The non-memory state of a freshly generated domain: what Xen would put in
 * a stream for a guest of this type, with deterministic register values.
 * Sizes follow the Xen structures they stand for (e.g. a 64-bit PV
 * vcpu_guest_context is 5168 bytes), the content is not interpreted.
 */
export function generatePlatform(type: DomainType, pages: number, vcpus: number, seed: number): Platform {
  const rng = new Prng(seed, 0x9a7f);
  const staticRecs: PlatformRecord[] = [];
  const early: PlatformRecord[] = [];
  const late: PlatformRecord[] = [];
  const libxl: PlatformRecord[] = [];
  const pageTypes: Record<number, number> = {};

  if (type === "pv") staticRecs.push({ name: "X86_PV_INFO", fields: { guestWidth: 8, ptLevels: 4 } });
  staticRecs.push({ name: "X86_CPUID_POLICY", fields: { leaves: cpuidLeaves(type) } });
  staticRecs.push({
    name: "X86_MSR_POLICY",
    fields: {
      entries: [
        { index: 0xce, flags: 0, value: 0n },
        { index: 0x10a, flags: 0, value: 0x0cn },
      ],
    },
  });
  late.push({
    name: "X86_TSC_INFO",
    fields: { mode: 0, khz: 2_400_000, nsec: BigInt(rng.next()) * 1000n, incarnation: 0 },
  });

  if (type === "pv") {
    // The guest's p2m (8 bytes per pfn) sits in the top frames of its memory.
    const p2mFrames = Math.ceil((pages * 8) / 4096);
    const frames = Array.from({ length: p2mFrames }, (_, i) => BigInt(pages - p2mFrames + i));
    early.push({ name: "X86_PV_P2M_FRAMES", fields: { startPfn: 0, endPfn: pages - 1, frames } });
    // A 4-level page-table tree at the bottom: one L4, one L3, one L2, some L1s.
    pageTypes[1] = PageType.L4TAB;
    pageTypes[2] = PageType.L3TAB;
    pageTypes[3] = PageType.L2TAB;
    for (let pfn = 4; pfn < Math.min(12, pages); pfn++) pageTypes[pfn] = PageType.L1TAB;
    late.push({ name: "SHARED_INFO", fields: { data: bytes(rng, 4096, 0.05) } });
    for (let v = 0; v < vcpus; v++) {
      late.push({ name: "X86_PV_VCPU_BASIC", fields: { vcpuId: v, context: pvBasicContext(rng) } });
      late.push({ name: "X86_PV_VCPU_EXTENDED", fields: { vcpuId: v, context: bytes(rng, 128, 0.2) } });
      late.push({ name: "X86_PV_VCPU_XSAVE", fields: { vcpuId: v, context: bytes(rng, 8 + 576 + 64, 0.3) } });
      late.push({ name: "X86_PV_VCPU_MSRS", fields: { vcpuId: v, context: bytes(rng, 3 * 16, 0.5) } });
    }
  } else {
    late.push({
      name: "HVM_PARAMS",
      fields: {
        params: [
          { index: 1n, value: BigInt(Math.max(0, pages - 3)) }, // STORE_PFN
          { index: 17n, value: BigInt(Math.max(0, pages - 2)) }, // CONSOLE_PFN
          { index: 12n, value: 0xfeffc000n }, // IDENT_PT
        ],
      },
    });
    late.push({ name: "HVM_CONTEXT", fields: { data: hvmContext(rng, vcpus) } });
    // PVH has no device model; HVM guests carry QEMU's state in the libxl stream.
    if (type === "hvm")
      libxl.push({ name: "EMULATOR_CONTEXT", fields: { emulatorId: 2, index: 0, data: bytes(rng, 8192, 0.1) } });
  }
  return { static: staticRecs, early, late, libxl, pageTypes };
}

function cpuidLeaves(type: DomainType): Array<Record<string, number>> {
  const none = 0xffffffff;
  return [
    { leaf: 0, subleaf: none, a: 0xd, b: 0x756e6547, c: 0x6c65746e, d: 0x49656e69 }, // "GenuineIntel"
    { leaf: 1, subleaf: none, a: 0x000906ea, b: 0x00010800, c: type === "pv" ? 0xf6d83203 : 0xf7fa3203, d: 0x178bfbff },
  ];
}

/** `length` bytes of which a `density` share are random, the rest zero, as in register files. */
function bytes(rng: Prng, length: number, density: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) if (rng.float() < density) out[i] = rng.next() & 0xff;
  return out;
}

/** vcpu_guest_context (x86_64): flags, then user_regs with rip/rsp set, the rest mostly zero. */
function pvBasicContext(rng: Prng): Uint8Array {
  const ctx = bytes(rng, 5168, 0.02);
  const v = new DataView(ctx.buffer);
  v.setBigUint64(0, 1n << 0n, true); // VGCF_I387_VALID
  v.setBigUint64(8 + 16 * 8, 0xffffffff81000000n + BigInt(rng.below(0x100000)), true); // rip
  return ctx;
}

/**
 * An HVM save blob as Xen lays it out: descriptors (typecode u16, instance
 * u16, length u32) each followed by their data, starting with the HEADER
 * (typecode 1), one CPU record (typecode 2) per vCPU, and the END (typecode 0).
 */
function hvmContext(rng: Prng, vcpus: number): Uint8Array {
  const parts: Uint8Array[] = [];
  const desc = (code: number, instance: number, body: Uint8Array) => {
    const d = new Uint8Array(8);
    const v = new DataView(d.buffer);
    v.setUint16(0, code, true);
    v.setUint16(2, instance, true);
    v.setUint32(4, body.length, true);
    parts.push(d, body);
  };
  const header = new Uint8Array(24);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, 0x54381286, true); // HVM_FILE_MAGIC
  hv.setUint32(4, 1, true); // HVM_FILE_VERSION
  hv.setUint32(16, 0x000906ea, true); // cpuid
  hv.setUint32(20, 2_400_000, true); // gtsc_khz
  desc(1, 0, header);
  for (let v = 0; v < vcpus; v++) desc(2, v, bytes(rng, 1016, 0.1));
  desc(0, 0, new Uint8Array(0));
  return Buffer.concat(parts);
}

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { paths, writeFileAtomic } from "./state-dir.js";

/**
 * A domain's state besides memory, kept as the stream records that carry it,
 * by name and decoded fields, so that a restored domain saves again with
 * exactly what it came with (also when it came from another tool's stream).
 */
export interface PlatformRecord {
  name: string;
  fields: unknown;
}

export interface Platform {
  /** libxc records before STATIC_DATA_END: X86_PV_INFO, CPUID/MSR policies. */
  static: PlatformRecord[];
  /** libxc records between static data and pages: X86_PV_P2M_FRAMES. */
  early: PlatformRecord[];
  /** libxc records after the pages: TSC_INFO, SHARED_INFO, vCPU context, HVM_PARAMS, HVM_CONTEXT. */
  late: PlatformRecord[];
  /** libxl records after the libxc stream: emulator state. */
  libxl: PlatformRecord[];
  /** Page types other than NOTAB (PV page tables), by pfn. */
  pageTypes: Record<number, number>;
}

/** Records whose content is vCPU state: what the digest covers besides memory. */
export const VCPU_RECORDS = new Set([
  "X86_PV_VCPU_BASIC",
  "X86_PV_VCPU_EXTENDED",
  "X86_PV_VCPU_XSAVE",
  "X86_PV_VCPU_MSRS",
  "HVM_CONTEXT",
]);

export function emptyPlatform(): Platform {
  return { static: [], early: [], late: [], libxl: [], pageTypes: {} };
}

export async function writePlatform(domainDir: string, platform: Platform): Promise<void> {
  await writeFileAtomic(paths.platform(domainDir), stringify(platform));
}

export async function readPlatform(domainDir: string): Promise<Platform> {
  return parse(await readFile(paths.platform(domainDir), "utf8")) as Platform;
}

/** SHA-256 of the vCPU records, in stream order, in canonical form. */
export function vcpuHash(platform: Platform): string {
  const h = createHash("sha256");
  for (const rec of platform.late) if (VCPU_RECORDS.has(rec.name)) h.update(stringify(rec)).update("\n");
  return h.digest("hex");
}

/**
 * JSON with byte arrays and bigints (record fields have both) and sorted
 * keys, so equal records always serialise to equal text.
 */
export function stringify(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function canonical(value: unknown): unknown {
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (value instanceof Uint8Array)
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonical(v);
    }
    return out;
  }
  return value;
}

export function parse(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$bigint === "string") return BigInt(o.$bigint);
      if (typeof o.$bytes === "string") return new Uint8Array(Buffer.from(o.$bytes, "base64"));
    }
    return v;
  });
}

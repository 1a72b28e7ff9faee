/**
 * Broken streams, each made from a valid sample by one change, with the
 * error the reader must raise. Shared by the hostile-input suite and the
 * conformance suite (which checks Xen's verifier refuses them too).
 */
import type { StreamEvent } from "../src/index.js";
import { decodeChunked, patch, sampleBytes, u32 } from "./helpers.js";

export interface BrokenCase {
  name: string;
  format: "xl" | "libxl" | "libxc";
  bytes: Uint8Array;
  error: "StreamError" | "RecordError";
  reason: string;
  layer: "xl" | "libxl" | "libxc";
  recordName?: string;
  /** Xen 4.17's verify-stream-v2 refuses it as well. */
  xenRejects: boolean;
}

function record(type: number, body: Uint8Array, little = true): Uint8Array {
  const pad = (8 - (body.length % 8)) % 8;
  return Buffer.concat([u32(type, little), u32(body.length, little), body, Buffer.alloc(pad)]);
}

function offsetOf(events: StreamEvent[], name: string, nth = 0): number {
  const found = events.filter((e) => "name" in e && e.name === name)[nth];
  if (!found) throw new Error(`no ${name} record`);
  return found.offset;
}

function insertAt(bytes: Uint8Array, at: number, extra: Uint8Array): Uint8Array {
  return Buffer.concat([bytes.subarray(0, at), extra, bytes.subarray(at)]);
}

export async function brokenCases(): Promise<BrokenCase[]> {
  const hvm3 = await sampleBytes({ layers: "libxc", domainType: "x86-hvm", libxcVersion: 3, pages: 20 });
  const hvm2 = await sampleBytes({ layers: "libxc", domainType: "x86-hvm", libxcVersion: 2, pages: 20 });
  const pv3 = await sampleBytes({ layers: "libxc", domainType: "x86-pv", libxcVersion: 3, pages: 20 });
  const libxl = await sampleBytes({ layers: "libxl", domainType: "x86-hvm", pages: 4 });
  const xl = await sampleBytes({ layers: "xl", domainType: "x86-hvm", pages: 4 });
  const e3 = decodeChunked(hvm3);
  const e2 = decodeChunked(hvm2);
  const ep = decodeChunked(pv3);
  const firstPage = offsetOf(e3, "PAGE_DATA");
  const base = { format: "libxc" as const, layer: "libxc" as const, xenRejects: true };
  return [
    {
      ...base,
      name: "truncated inside a record",
      bytes: hvm3.subarray(0, hvm3.length - 13),
      error: "StreamError",
      reason: "truncated",
    },
    {
      ...base,
      name: "truncated inside a header",
      bytes: hvm3.subarray(0, 30),
      error: "StreamError",
      reason: "truncated",
    },
    {
      ...base,
      name: "bad image id",
      bytes: patch(hvm3, 8, Buffer.from("XENX")),
      error: "StreamError",
      reason: "bad-magic",
    },
    {
      ...base,
      name: "unknown image version 4",
      bytes: patch(hvm3, 12, u32(4, false)),
      error: "StreamError",
      reason: "unsupported-version",
    },
    {
      ...base,
      name: "unknown image version 1",
      bytes: patch(hvm3, 12, u32(1, false)),
      error: "StreamError",
      reason: "unsupported-version",
    },
    {
      ...base,
      name: "reserved image option bit",
      bytes: patch(hvm3, 16, [0x80, 0]),
      error: "StreamError",
      reason: "reserved-bits",
    },
    {
      ...base,
      name: "reserved image header field",
      bytes: patch(hvm3, 20, [0, 0, 0, 1]),
      error: "StreamError",
      reason: "reserved-bits",
    },
    { ...base, name: "unknown domain type", bytes: patch(hvm3, 24, u32(3)), error: "StreamError", reason: "bad-value" },
    { ...base, name: "page shift 13", bytes: patch(hvm3, 28, [13, 0]), error: "StreamError", reason: "bad-value" },
    {
      ...base,
      name: "non-zero record padding",
      bytes: patch(hvm3, offsetOf(e3, "HVM_CONTEXT") + 8 + 3021 + 1, [0xaa]),
      error: "RecordError",
      reason: "bad-padding",
      recordName: "HVM_CONTEXT",
    },
    {
      ...base,
      name: "X86_TSC_INFO length 16",
      bytes: patch(hvm3, offsetOf(e3, "X86_TSC_INFO") + 4, u32(16)),
      error: "RecordError",
      reason: "bad-length",
      recordName: "X86_TSC_INFO",
    },
    {
      ...base,
      name: "hostile length 0xFFFFFFF8",
      bytes: patch(hvm3, offsetOf(e3, "HVM_CONTEXT") + 4, u32(0xfffffff8)),
      error: "RecordError",
      reason: "too-large",
      recordName: "HVM_CONTEXT",
    },
    {
      ...base,
      name: "PAGE_DATA length not matching its pfns",
      bytes: patch(hvm3, firstPage + 4, u32(8 + 8 * 20 + 4096 * 19)),
      error: "RecordError",
      reason: "bad-length",
      recordName: "PAGE_DATA",
    },
    {
      ...base,
      name: "reserved bits in a pfn",
      bytes: patch(hvm3, firstPage + 16 + 6, [0x10]),
      error: "RecordError",
      reason: "reserved-bits",
      recordName: "PAGE_DATA",
    },
    {
      ...base,
      name: "reserved page type 5",
      bytes: patch(hvm3, firstPage + 16 + 7, [0x50]),
      error: "RecordError",
      reason: "bad-value",
      recordName: "PAGE_DATA",
    },
    {
      ...base,
      name: "X86_PV_INFO guest width 5",
      bytes: patch(pv3, offsetOf(ep, "X86_PV_INFO") + 8, [5]),
      error: "RecordError",
      reason: "bad-value",
      recordName: "X86_PV_INFO",
    },
    {
      ...base,
      name: "HVM_PARAMS count beyond its length",
      bytes: patch(hvm3, offsetOf(e3, "HVM_PARAMS") + 8, u32(4)),
      error: "RecordError",
      reason: "bad-length",
      recordName: "HVM_PARAMS",
    },
    {
      ...base,
      name: "STATIC_DATA_END in a v2 stream",
      bytes: insertAt(hvm2, offsetOf(e2, "PAGE_DATA"), record(0x10, new Uint8Array(0))),
      error: "RecordError",
      reason: "wrong-phase",
      recordName: "STATIC_DATA_END",
    },
    {
      ...base,
      name: "v3-only X86_CPUID_POLICY in a v2 stream",
      bytes: insertAt(hvm2, offsetOf(e2, "PAGE_DATA"), record(0x11, new Uint8Array(24))),
      error: "RecordError",
      reason: "wrong-phase",
      recordName: "X86_CPUID_POLICY",
    },
    {
      ...base,
      name: "unknown mandatory record 0x13",
      bytes: insertAt(hvm3, firstPage, record(0x13, new Uint8Array(8))),
      error: "RecordError",
      reason: "unknown-record",
    },
    {
      ...base,
      name: "deprecated TOOLSTACK record",
      bytes: insertAt(hvm3, firstPage, record(0x0b, new Uint8Array(8))),
      error: "RecordError",
      reason: "unsupported-record",
      recordName: "TOOLSTACK",
    },
    {
      ...base,
      name: "END with a body",
      bytes: Buffer.concat([hvm3.subarray(0, hvm3.length - 8), record(0, new Uint8Array(8))]),
      error: "RecordError",
      reason: "bad-length",
      recordName: "END",
    },
    // Xen's verifier checks neither of these; Xen's restore code does (xg_sr_restore.c).
    {
      ...base,
      xenRejects: false,
      name: "static data after STATIC_DATA_END",
      bytes: insertAt(hvm3, firstPage, record(0x11, new Uint8Array(24))),
      error: "RecordError",
      reason: "wrong-phase",
      recordName: "X86_CPUID_POLICY",
    },
    {
      ...base,
      xenRejects: false,
      name: "PAGE_DATA before STATIC_DATA_END in v3",
      bytes: (() => {
        const at = offsetOf(e3, "STATIC_DATA_END");
        return Buffer.concat([hvm3.subarray(0, at), hvm3.subarray(at + 8)]);
      })(),
      error: "RecordError",
      reason: "wrong-phase",
      recordName: "PAGE_DATA",
    },
    {
      ...base,
      xenRejects: false,
      name: "trailing bytes after END",
      bytes: Buffer.concat([hvm3, Buffer.alloc(8)]),
      error: "StreamError",
      reason: "trailing-data",
    },
    {
      ...base,
      format: "libxl",
      layer: "libxl",
      name: "libxl version 3",
      bytes: patch(libxl, 8, u32(3, false)),
      error: "StreamError",
      reason: "unsupported-version",
    },
    {
      ...base,
      format: "libxl",
      layer: "libxl",
      name: "libxl bad ident",
      bytes: patch(libxl, 0, Buffer.from("LibxlFmX")),
      error: "StreamError",
      reason: "bad-magic",
    },
    {
      ...base,
      format: "libxl",
      layer: "libxl",
      name: "libxl reserved option bit",
      bytes: patch(libxl, 12, u32(0x100, false)),
      error: "StreamError",
      reason: "reserved-bits",
    },
    {
      ...base,
      format: "libxl",
      layer: "libxl",
      name: "unknown mandatory libxl record",
      bytes: insertAt(libxl, 16, record(0x06, new Uint8Array(0))),
      error: "RecordError",
      reason: "unknown-record",
    },
    {
      ...base,
      format: "libxl",
      layer: "libxl",
      name: "unknown emulator id",
      bytes: patch(libxl, offsetOf(decodeChunked(libxl), "EMULATOR_CONTEXT") + 8, u32(7)),
      error: "RecordError",
      reason: "bad-value",
      recordName: "EMULATOR_CONTEXT",
    },
    {
      ...base,
      format: "xl",
      layer: "xl",
      name: "xl bad magic",
      bytes: patch(xl, 0, Buffer.from("Xen saved domain, XL")),
      error: "StreamError",
      reason: "bad-magic",
    },
  ];
}

/** Inputs Xen's verifier is not given (it has no such checks), for the reader alone. */
export async function readerOnlyCases(): Promise<BrokenCase[]> {
  const xl = await sampleBytes({ layers: "xl", domainType: "x86-hvm", pages: 4 });
  const libxl = await sampleBytes({ layers: "libxl", domainType: "x86-pv", pages: 4 });
  const xlBase = { format: "xl" as const, layer: "xl" as const, xenRejects: false, error: "StreamError" as const };
  const optLen = Buffer.from(xl).readUInt32LE(44);
  return [
    { ...xlBase, name: "xl byte-order word wrong", bytes: patch(xl, 32, u32(0x01020305)), reason: "bad-value" },
    { ...xlBase, name: "xl unknown mandatory flag", bytes: patch(xl, 36, u32(0x7)), reason: "reserved-bits" },
    {
      ...xlBase,
      name: "xl legacy stream (no STREAMv2 flag)",
      bytes: patch(xl, 36, u32(0x1)),
      reason: "unsupported-version",
    },
    {
      ...xlBase,
      name: "xl optional data over 16 MiB",
      bytes: patch(xl, 44, u32(32 * 1024 * 1024)),
      reason: "too-large",
    },
    {
      ...xlBase,
      name: "xl config length beyond optional data",
      bytes: patch(xl, 48, u32(optLen)),
      reason: "bad-config",
    },
    { ...xlBase, name: "xl config not JSON", bytes: patch(xl, 52, Buffer.from("{{")), reason: "bad-config" },
    {
      ...xlBase,
      name: "not a stream at all",
      bytes: Buffer.from("hello world, not a stream. ".repeat(4)),
      reason: "bad-magic",
    },
    {
      ...xlBase,
      format: "libxl",
      layer: "libxl",
      error: "RecordError",
      name: "libxl END before the libxc stream",
      bytes: Buffer.concat([libxl.subarray(0, 16), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0])]),
      reason: "wrong-phase",
      recordName: "END",
    },
    {
      ...xlBase,
      format: "libxl",
      layer: "libxl",
      error: "RecordError",
      name: "libxl CHECKPOINT_END outside a checkpoint",
      bytes: Buffer.concat([libxl.subarray(0, 16), Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), libxl.subarray(16)]),
      reason: "wrong-phase",
      recordName: "CHECKPOINT_END",
    },
  ];
}

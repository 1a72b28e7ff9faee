/**
 * Whole-stream summaries and verification, used by `xenfleet stream
 * inspect|verify` and by tests. A stream is valid when the reader reaches the
 * final END and end of input without a FormatError.
 */
import { FormatError, type Layer } from "./errors.js";
import { eventByteLength } from "./events.js";
import type { ByteOrder, DomainTypeName, LibxcVersion } from "./layout.js";
import { type ReadOptions, readStream } from "./reader.js";
import type { StreamSource } from "./source.js";

export interface StreamSummary {
  /** Layers present, outermost first. */
  layers: Layer[];
  xl?: {
    byteOrder: ByteOrder;
    mandatoryFlags: number;
    optionalFlags: number;
    optionalDataLength: number;
    hasConfig: boolean;
    json: boolean;
  };
  libxl?: { version: 2; byteOrder: ByteOrder; legacy: boolean };
  libxc?: {
    version: LibxcVersion;
    byteOrder: ByteOrder;
    domainType: DomainTypeName;
    pageShift: number;
    xenVersion: string;
  };
  /** Record counts by name, per layer (unknown optional records as "UNKNOWN"). */
  records: { libxl: Record<string, number>; libxc: Record<string, number> };
  /** Pages of memory data carried by PAGE_DATA records. */
  pages: number;
  /** PFN entries in PAGE_DATA records (pages plus entries without data). */
  pfns: number;
  bytes: number;
  /** Bytes of device model state in the qemu record after a libxc HVM stream's END, when there is one. */
  deviceModelBytes?: number;
}

export async function inspectStream(source: StreamSource, options: ReadOptions = {}): Promise<StreamSummary> {
  const summary: StreamSummary = { layers: [], records: { libxl: {}, libxc: {} }, pages: 0, pfns: 0, bytes: 0 };
  let partial: Partial<NonNullable<StreamSummary["libxc"]>> = {};
  for await (const event of readStream(source, options)) {
    summary.bytes += eventByteLength(event);
    switch (event.kind) {
      case "xl-header":
        summary.layers.push("xl");
        summary.xl = {
          byteOrder: event.byteOrder,
          mandatoryFlags: event.mandatoryFlags,
          optionalFlags: event.optionalFlags,
          optionalDataLength: event.optionalDataLength,
          hasConfig: event.configText !== undefined,
          json: event.json,
        };
        break;
      case "libxl-header":
        summary.layers.push("libxl");
        summary.libxl = { version: event.version, byteOrder: event.byteOrder, legacy: event.legacy };
        break;
      case "image-header":
        summary.layers.push("libxc");
        partial = { version: event.version, byteOrder: event.byteOrder };
        break;
      case "domain-header":
        summary.libxc = {
          version: partial.version ?? 3,
          byteOrder: partial.byteOrder ?? "little",
          domainType: event.domainTypeName,
          pageShift: event.pageShift,
          xenVersion: `${event.xenMajor}.${event.xenMinor}`,
        };
        break;
      case "libxl-record":
        count(summary.records.libxl, event.name);
        break;
      case "libxc-record":
        count(summary.records.libxc, event.name);
        break;
      case "page-data":
        count(summary.records.libxc, event.name);
        summary.pages += event.pages.length;
        summary.pfns += event.pfns.length;
        break;
      case "device-model":
        summary.deviceModelBytes = event.data.length;
        break;
    }
  }
  return summary;
}

function count(into: Record<string, number>, name: string): void {
  into[name] = (into[name] ?? 0) + 1;
}

export type VerifyResult = { ok: true; summary: StreamSummary } | { ok: false; error: FormatError };

/** Reads the whole stream; a FormatError becomes `{ ok: false }`, other errors (I/O) are thrown. */
export async function verifyStream(source: StreamSource, options: ReadOptions = {}): Promise<VerifyResult> {
  try {
    return { ok: true, summary: await inspectStream(source, options) };
  } catch (error) {
    if (error instanceof FormatError) return { ok: false, error };
    throw error;
  }
}

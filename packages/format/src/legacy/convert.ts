/**
 * Converts a legacy stream to a v2 stream, byte for byte what Xen's
 * convert-legacy-stream writes for the same input and options. Reference:
 * Xen's tools/python/scripts/convert-legacy-stream (output order and
 * fields), libxc-migration-stream.html and libxl-migration-stream.html (the
 * v2 records), and layout.ts for the legacy side.
 *
 * Output: an optional xl header (copied, STREAMV2 set for a libxl stream);
 * for libxl, the libxl header (legacy bit set) and LIBXC_CONTEXT; a v3 libxc
 * image header, domain header (Xen version 0.1: "converted"), PV_INFO,
 * STATIC_DATA_END, P2M_FRAMES, PAGE_DATA per batch, TSC_INFO, HVM_PARAMS
 * (body chunks, then magic pfns), vcpu records, SHARED_INFO or HVM_CONTEXT,
 * END; then for libxl EMULATOR_XENSTORE_DATA, EMULATOR_CONTEXT and END. With
 * `format: "libxc"` an HVM device-model record is copied raw after END.
 *
 * Streaming: every record is written as soon as its legacy data is read;
 * the only things held are one page batch, the p2m frame list, the HVM
 * parameters of the body (a few dozen bytes) and the libxl toolstack data.
 */
import { ByteBuilder, dataView } from "../bytes.js";
import type { FormatErrorReason } from "../errors.js";
import { REC_LENGTH_MAX, SIZES, padLength } from "../layout.js";
import { encodeDomainHeader, encodeImageHeader } from "../libxc-headers.js";
import { encodeLibxlHeader } from "../libxl-header.js";
import {
  type CodecContext,
  type HvmParam,
  LIBXC_RECORDS,
  LIBXL_RECORDS,
  type RecordSpec,
  encodePageDataHead,
} from "../records.js";
import type { StreamSource } from "../source.js";
import { LegacyStreamError } from "./errors.js";
import type { LegacyEvent } from "./events.js";
import {
  CONVERTED_XEN_MAJOR,
  CONVERTED_XEN_MINOR,
  HvmParam as Param,
  type LegacyGuest,
  MAX_TOOLSTACK,
  PFINFO_XTAB,
  PFN_MASK,
  PFN_TYPE_SHIFT,
  type ToolstackWidth,
} from "./layout.js";
import { readLegacy } from "./reader.js";
import { physmapEntries } from "./toolstack.js";
import { encodeConvertedXlHeader } from "./xl.js";

export type OutputFormat = "libxc" | "libxl";

export interface ConvertOptions {
  /** Toolstack width of the legacy stream; detected when omitted. */
  width?: ToolstackWidth | undefined;
  /** Guest type; detected when omitted. */
  guest?: LegacyGuest | undefined;
  /** Stream to write: "libxc" (Xen's default) or "libxl"; an xl-wrapped input defaults to "libxl". */
  format?: OutputFormat | undefined;
  /** Leave an HVM stream's device-model record unread (only with the libxc format, as in Xen). */
  skipQemu?: boolean | undefined;
}

/** What a conversion learnt about its source; the image store records it. */
export interface LegacySourceInfo {
  width: ToolstackWidth;
  guest: LegacyGuest;
  xlWrapped: boolean;
  format: OutputFormat;
  /** True when width (or guest) came from the bytes rather than from options. */
  widthDetected: boolean;
  guestDetected: boolean;
  p2mSize: number;
}

export interface LegacyConversion {
  info: LegacySourceInfo;
  /** The v2 stream; iterate once. Errors are LegacyStreamError. */
  chunks: AsyncIterable<Uint8Array>;
}

function resolveFormat(options: ConvertOptions, xlWrapped: boolean): OutputFormat {
  return options.format ?? (xlWrapped ? "libxl" : "libxc");
}

/**
 * Opens a legacy stream for conversion: reads far enough to know its width
 * and guest type (throwing LegacyDetectError when it cannot tell), then
 * hands back that information and the converted bytes.
 */
export async function openLegacyAsV2(source: StreamSource, options: ConvertOptions = {}): Promise<LegacyConversion> {
  const events = readLegacy(source, {
    width: options.width,
    guest: options.guest,
    qemu: (xlWrapped) => resolveFormat(options, xlWrapped) === "libxl" || !options.skipQemu,
  });
  const head: LegacyEvent[] = [];
  for (;;) {
    const next = await events.next();
    if (next.done) throw new Error("legacy reader ended before p2m_size"); // unreachable: the reader throws first
    head.push(next.value);
    if (next.value.kind === "p2m-size") break;
  }
  const sizeEvent = head[head.length - 1] as Extract<LegacyEvent, { kind: "p2m-size" }>;
  const info: LegacySourceInfo = {
    width: sizeEvent.width,
    guest: sizeEvent.guest,
    xlWrapped: sizeEvent.xlWrapped,
    format: resolveFormat(options, sizeEvent.xlWrapped),
    widthDetected: sizeEvent.widthDetected,
    guestDetected: sizeEvent.guestDetected,
    p2mSize: sizeEvent.p2mSize,
  };
  async function* all(): AsyncGenerator<LegacyEvent> {
    yield* head;
    yield* events;
  }
  return { info, chunks: convertLegacy(all(), info.format) };
}

/** Converts a whole legacy stream; resolves with what was learnt about it. */
export async function convertLegacyStream(
  source: StreamSource,
  sink: (chunk: Uint8Array) => Promise<void> | void,
  options: ConvertOptions = {},
): Promise<LegacySourceInfo> {
  const { info, chunks } = await openLegacyAsV2(source, options);
  for await (const chunk of chunks) await sink(chunk);
  return info;
}

function recordHeader(type: number, length: number): Uint8Array {
  return new ByteBuilder(SIZES.recordHeader, true).u32(type).u32(length).bytes;
}

const ZEROES = new Uint8Array(8);
const padding = (length: number) => ZEROES.subarray(0, padLength(length));

/** Header, body and padding of one small record, encoded by the shared record table. */
function record<F>(spec: RecordSpec<F>, fields: F, offset: number): Uint8Array {
  const body = spec.encode(fields, context(offset, spec.name));
  return new ByteBuilder(SIZES.recordHeader + body.length + padLength(body.length), true)
    .u32(spec.type)
    .u32(body.length)
    .raw(body).bytes;
}

function context(offset: number, name: string): CodecContext {
  return {
    littleEndian: true,
    fail(reason: FormatErrorReason, expected: string, actual?: string): never {
      throw new LegacyStreamError({
        reason: "bad-value",
        offset,
        part: `data for v2 record ${name}`,
        expected: `${expected} (${reason})`,
        actual,
      });
    },
  };
}

/** The v2 bytes for a sequence of legacy events (from readLegacy). */
export async function* convertLegacy(
  events: AsyncIterable<LegacyEvent>,
  format: OutputFormat,
): AsyncGenerator<Uint8Array> {
  const libxl = format === "libxl";
  const X = LIBXC_RECORDS;
  const L = LIBXL_RECORDS;
  let width: ToolstackWidth = 64;
  let p2mSize = 0;
  /** Length of the blob being copied, for its record's padding. */
  let blobLength = 0;
  const bodyParams: HvmParam[] = [];
  let xenstore: [string, string][] = [];
  let toolstack: Uint8Array[] | undefined;

  for await (const e of events) {
    switch (e.kind) {
      case "xl-header":
        yield encodeConvertedXlHeader(e.header, e.optionalData, libxl);
        break;
      case "p2m-size":
        width = e.width;
        p2mSize = e.p2mSize;
        if (libxl) {
          yield encodeLibxlHeader("little", true);
          yield record(L.LIBXC_CONTEXT, {}, e.offset);
        }
        yield encodeImageHeader(3, "little");
        yield encodeDomainHeader(
          e.guest === "pv" ? "x86-pv" : "x86-hvm",
          CONVERTED_XEN_MAJOR,
          CONVERTED_XEN_MINOR,
          true,
        );
        // PV static data (PV_INFO) comes from the extended info; HVM has none.
        if (e.guest === "hvm") yield record(X.STATIC_DATA_END, {}, e.offset);
        break;
      case "pv-info":
        yield record(X.X86_PV_INFO, { guestWidth: e.guestWidth, ptLevels: e.ptLevels }, e.offset);
        break;
      case "p2m-frames": {
        yield record(X.STATIC_DATA_END, {}, e.offset);
        const length = 8 + e.count * 8;
        if (length > REC_LENGTH_MAX)
          throw new LegacyStreamError({
            reason: "bad-count",
            offset: e.offset,
            part: "p2m frame list",
            expected: `a frame list that fits a ${REC_LENGTH_MAX}-byte record`,
            actual: `${e.count} frames`,
          });
        // start pfn 0, end pfn p2m_size - 1, then each frame widened to u64.
        const b = new ByteBuilder(SIZES.recordHeader + length, true)
          .u32(X.X86_PV_P2M_FRAMES.type)
          .u32(length)
          .u32(0)
          .u32(p2mSize - 1);
        if (e.entrySize === 8) b.raw(e.raw);
        else {
          const v = dataView(e.raw);
          for (let i = 0; i < e.count; i++) b.u32(v.getUint32(i * 4, true)).u32(0);
        }
        yield b.bytes;
        break;
      }
      case "page-batch": {
        const pfns = [];
        for (const entry of e.entries) {
          if (entry === PFINFO_XTAB * 2 ** PFN_TYPE_SHIFT) continue;
          pfns.push({ pfn: entry & PFN_MASK, type: entry >>> PFN_TYPE_SHIFT });
        }
        const { head } = encodePageDataHead(pfns, context(e.offset, "PAGE_DATA"));
        yield recordHeader(X.PAGE_DATA.type, head.length + e.pages.length);
        yield head;
        if (e.pages.length > 0) yield e.pages;
        break;
      }
      case "hvm-param":
        bodyParams.push({ index: BigInt(e.param), value: e.value });
        break;
      case "tsc-info":
        yield record(X.X86_TSC_INFO, { mode: e.mode, khz: e.khz, nsec: e.nsec, incarnation: e.incarnation }, e.offset);
        break;
      case "end-of-body":
        if (bodyParams.length > 0) yield record(X.HVM_PARAMS, { params: bodyParams }, e.offset);
        break;
      case "vcpu":
        yield record(X.X86_PV_VCPU_BASIC, { vcpuId: e.vcpuId, context: e.basic }, e.offset);
        if (e.extended) yield record(X.X86_PV_VCPU_EXTENDED, { vcpuId: e.vcpuId, context: e.extended }, e.offset);
        if (e.xsave) yield record(X.X86_PV_VCPU_XSAVE, { vcpuId: e.vcpuId, context: e.xsave.data }, e.offset);
        break;
      case "shared-info":
        yield record(X.SHARED_INFO, { data: e.data }, e.offset);
        break;
      case "magic-pfns":
        yield record(
          X.HVM_PARAMS,
          {
            params: [
              { index: BigInt(Param.IOREQ_PFN), value: e.ioreq },
              { index: BigInt(Param.BUFIOREQ_PFN), value: e.bufioreq },
              { index: BigInt(Param.STORE_PFN), value: e.store },
            ],
          },
          e.offset,
        );
        break;
      case "blob-start":
        blobLength = e.length;
        if (e.blob === "hvm-context") yield recordHeader(X.HVM_CONTEXT.type, e.length);
        else if (e.blob === "qemu") {
          if (libxl)
            yield new ByteBuilder(SIZES.recordHeader + SIZES.emulatorHeader, true)
              .u32(L.EMULATOR_CONTEXT.type)
              .u32(SIZES.emulatorHeader + e.length).bytes;
          else yield new ByteBuilder(e.signature!.length + 4, true).raw(e.signature!).u32(e.length).bytes;
        } else if (libxl) {
          // Only libxl streams keep the toolstack data (as xenstore keys); it is parsed whole.
          if (e.length > MAX_TOOLSTACK)
            throw new LegacyStreamError({
              reason: "bad-count",
              offset: e.offset,
              part: "chunk TOOLSTACK",
              expected: `at most ${MAX_TOOLSTACK} bytes of toolstack data`,
              actual: String(e.length),
            });
          toolstack = [];
        }
        break;
      case "blob-data":
        if (e.blob === "toolstack") toolstack?.push(e.bytes);
        else yield e.bytes;
        break;
      case "blob-end":
        if (e.blob === "toolstack") {
          if (toolstack !== undefined && blobLength > 0)
            xenstore = xenstore.concat(physmapEntries(Buffer.concat(toolstack), width, e.offset - blobLength));
          toolstack = undefined;
        } else if (e.blob === "hvm-context") yield padding(blobLength);
        else if (libxl) yield padding(SIZES.emulatorHeader + blobLength);
        break;
      case "libxc-end":
        yield record(X.END, {}, e.offset);
        if (libxl && xenstore.length > 0)
          yield record(L.EMULATOR_XENSTORE_DATA, { emulatorId: 0, index: 0, entries: xenstore }, e.offset);
        break;
      case "end":
        if (libxl) yield record(L.END, {}, e.offset);
        break;
      case "vcpu-info":
      case "marker":
      case "unmapped-pfns":
        break;
    }
  }
}

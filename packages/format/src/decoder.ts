/**
 * The stream reader's core: a synchronous state machine fed arbitrary chunks,
 * consuming exact byte counts and returning the events each chunk completes.
 * Memory is bounded by the current event: bytes are only gathered once they
 * have arrived, and a record length is checked against its type and the
 * reader's limits before any of its body is gathered. The body of an
 * unknown optional record is never gathered: nothing here reads it, so it
 * is handed on as it arrives ("record-data" events), whatever its length.
 *
 * Specs: libxc-migration-stream.html (3 Headers, 4 Records),
 * libxl-migration-stream.html (3 Header, 4 Record Overview); xl header in
 * Xen tools/xl/xl.h.
 */
import { concatBytes, dataView, isAllZero } from "./bytes.js";
import { type FormatErrorReason, type Layer, RecordError, StreamError } from "./errors.js";
import type { LibxcRecordEvent, LibxlRecordEvent, PageDataEvent, StreamEvent } from "./events.js";
import { type Fail, StreamGrammar } from "./grammar.js";
import { decodeDomainHeader, decodeImageHeader, startsWithImageMarker } from "./libxc-headers.js";
import { decodeLibxlHeader, startsWithLibxlIdent } from "./libxl-header.js";
import { IHDR_MARKER, LIBXL_IDENT, PAGE_SIZE, REC_LENGTH_MAX, SIZES, padLength } from "./layout.js";
import {
  type CodecContext,
  type PfnEntry,
  type RecordSpec,
  decodePageDataCount,
  decodePfnEntries,
  pageDataLength,
  recordName,
  recordSpec,
} from "./records.js";
import { type XlFixedHeader, decodeXlConfig, decodeXlFixedHeader, startsWithXlMagic } from "./xl-header.js";

export interface DecoderOptions {
  /** Outermost layer of the stream; "auto" detects it from the first 8 bytes. */
  format?: "auto" | Layer;
  /** Largest record body accepted (default Xen's REC_LENGTH_MAX, 128 MiB). */
  maxRecordLength?: number;
  /** Most pfns accepted in one PAGE_DATA record (default 4096; Xen writes at most 1024). */
  maxPagesPerRecord?: number;
  /** Largest xl optional data (domain config) accepted (default 16 MiB). */
  maxConfigLength?: number;
}

type State =
  | "detect"
  | "xl-fixed"
  | "xl-optional"
  | "libxl-header"
  | "image-header"
  | "domain-header"
  | "record-header"
  | "record-body"
  | "page-count"
  | "page-pfns"
  | "page-data"
  | "device-model-header"
  | "device-model-body"
  | "unknown-body"
  | "done";

const EMPTY = new Uint8Array(0);

/**
 * What Xen's convert-legacy-stream writes after the END of a libxc-format
 * HVM stream: the legacy qemu save record as it was, its signature, a 32-bit
 * length and the device model's state. Xen's verifier stops at END; this
 * reader takes exactly that record there (anything else is trailing data).
 */
const DEVICE_MODEL_SIGNATURE = new TextEncoder().encode("DeviceModelRecord0002");
const DEVICE_MODEL_HEADER = DEVICE_MODEL_SIGNATURE.length + 4;

/** What a stream begins with, one of the three layers' magic numbers. */
const STREAM_MAGICS =
  'an xl header ("Xen saved domain"), a libxl header ("LibxlFmt") or a libxc image marker (0xffffffffffffffff)';

/** Whether `head`, all of an input shorter than any header, is the start of one of the magic numbers. */
function couldStartStream(head: Uint8Array): boolean {
  const startsWith = (magic: bigint) => head.every((b, i) => b === Number((magic >> BigInt(56 - 8 * i)) & 0xffn));
  return startsWithXlMagic(head) || startsWith(LIBXL_IDENT) || startsWith(IHDR_MARKER);
}

export class StreamDecoder {
  private readonly maxRecordLength: number;
  private readonly maxPagesPerRecord: number;
  private readonly maxConfigLength: number;
  private grammar: StreamGrammar | undefined;
  private outerLayer: Layer = "xl";
  private state: State = "detect";

  /** Stream offset of the next byte to consume. */
  private position = 0;
  /** Offset of the first byte of the event being gathered. */
  private eventStart = 0;
  /** Bytes of the current event gathered from earlier chunks. */
  private pieces: Uint8Array[] = [];
  private gathered = 0;
  /** Bytes the current stage of the event needs in total (counted from eventStart). */
  private need = 0;

  private xlHeader: XlFixedHeader | undefined;
  private libxlLittle = true;
  private libxcLittle = true;
  /** The libxc stream is an HVM guest's: after its END, as the outer layer, a device model record may follow. */
  private hvm = false;
  private recordLayer: "libxl" | "libxc" = "libxc";
  private recordType = 0;
  private recordLength = 0;
  private spec: RecordSpec<unknown> | undefined;
  private pageCount = 0;
  private pfns: PfnEntry[] = [];
  private pages: Uint8Array[] = [];
  private pagesLeft = 0;
  private pageRaw: Uint8Array = EMPTY;
  private partialPage: Uint8Array | undefined;
  private partialFill = 0;
  /** Bytes of an unknown optional record's body and padding handed on so far. */
  private bodyTaken = 0;

  constructor(options: DecoderOptions = {}) {
    this.maxRecordLength = Math.min(options.maxRecordLength ?? REC_LENGTH_MAX, 0xffff_ffff);
    this.maxPagesPerRecord = options.maxPagesPerRecord ?? 4096;
    this.maxConfigLength = options.maxConfigLength ?? 16 * 1024 * 1024;
    const format = options.format ?? "auto";
    if (format === "auto") {
      this.state = "detect";
      this.need = 8;
    } else {
      this.startAt(format);
    }
  }

  /** True once the outermost END has been read (and the device model record that may follow it, if begun). */
  get finished(): boolean {
    return this.state === "done" || (this.state === "device-model-header" && this.gathered === 0);
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.position;
  }

  /** Feeds the next chunk; returns the events it completes, in order. */
  push(chunk: Uint8Array): StreamEvent[] {
    const out: StreamEvent[] = [];
    const len = chunk.length;
    let pos = 0;
    // Where the current event's bytes start in this chunk, when all of them lie in it:
    // they are then handed on as one view, never copied.
    let segStart = -1;
    while (pos < len) {
      if (this.state === "done") {
        throw this.streamError(
          "trailing-data",
          this.position,
          this.outerLayer,
          "end of stream after the final END record",
          `${len - pos} more bytes`,
        );
      }
      if (this.state === "page-data") {
        pos = this.takePages(chunk, pos, out);
        segStart = -1;
        continue;
      }
      if (this.state === "unknown-body") {
        pos = this.takeUnknownBody(chunk, pos, out);
        segStart = -1;
        continue;
      }
      const start = pos;
      const want = this.need - this.gathered;
      const take = Math.min(want, len - pos);
      pos += take;
      this.position += take;
      if (take < want) {
        this.pieces.push(chunk.subarray(segStart >= 0 ? segStart : start, pos));
        this.gathered += take;
        segStart = -1;
        break;
      }
      let bytes: Uint8Array;
      let contiguous = true;
      if (segStart >= 0) bytes = chunk.subarray(segStart, pos);
      else if (this.pieces.length === 0) bytes = chunk.subarray(start, pos);
      else {
        this.pieces.push(chunk.subarray(start, pos));
        bytes = concatBytes(this.pieces);
        contiguous = false;
      }
      this.pieces = [];
      this.gathered = 0;
      segStart = -1;
      for (;;) {
        const eventStart = this.eventStart;
        this.advance(bytes, out);
        const state = this.state as State; // advance() moved it on
        if (this.eventStart !== eventStart || state === "page-data" || state === "unknown-body" || state === "done")
          break;
        // The same event goes on: a header told us how long the rest is.
        if (this.need > bytes.length) {
          this.gathered = bytes.length;
          if (contiguous) segStart = pos - bytes.length;
          else this.pieces.push(bytes);
          break;
        }
        // Nothing more to gather (an empty body): the next stage runs on the same bytes.
      }
    }
    // The chunk ended exactly where a stage of the current event did: keep what it holds.
    if (segStart >= 0) this.pieces.push(chunk.subarray(segStart, len));
    return out;
  }

  /** Signals end of input; throws if the stream is incomplete. */
  end(): StreamEvent[] {
    if (this.state === "detect") {
      // Input shorter than any header: not truncated unless it begins like a stream.
      const head = concatBytes(this.pieces);
      if (head.length === 0 || !couldStartStream(head))
        throw this.streamError(
          "bad-magic",
          0,
          "xl",
          STREAM_MAGICS,
          head.length === 0 ? "no bytes at all" : `${head.length} bytes no stream starts with`,
        );
    }
    if (this.state === "device-model-header") {
      // Fewer bytes after END than a device model record's header: they are one only if they begin like it.
      const tail = concatBytes(this.pieces);
      if (!tail.every((b, i) => b === DEVICE_MODEL_SIGNATURE[i]))
        throw this.streamError(
          "trailing-data",
          this.position - tail.length,
          "libxc",
          "end of stream after the final END record, or an HVM device model record (DeviceModelRecord0002)",
          `${tail.length} more bytes`,
        );
    }
    if (!this.finished) {
      const missing =
        this.state === "page-data"
          ? this.pagesLeft * PAGE_SIZE - this.partialFill
          : this.state === "unknown-body"
            ? this.unknownBodyLength() - this.bodyTaken
            : this.need - this.gathered;
      const inRecord = this.state === "record-body" || this.state === "unknown-body" || this.state.startsWith("page-");
      throw new StreamError({
        reason: "truncated",
        offset: inRecord ? this.eventStart : this.position,
        layer: this.currentLayer(),
        recordType: inRecord ? this.recordType : undefined,
        recordName: inRecord ? recordName(this.recordLayer, this.recordType) : undefined,
        expected: `${missing} more bytes of ${inRecord ? "the record" : (this.grammar?.describeNext() ?? "a stream header")}`,
        actual: `end of input at offset ${this.position}`,
      });
    }
    return [];
  }

  private startAt(layer: Layer): void {
    this.grammar = new StreamGrammar(layer);
    this.outerLayer = layer;
    if (layer === "xl") this.expect("xl-fixed", SIZES.xlHeader);
    else if (layer === "libxl") this.expect("libxl-header", SIZES.libxlHeader);
    else this.expect("image-header", SIZES.imageHeader);
  }

  private expect(state: State, need: number): void {
    this.state = state;
    this.need = need;
  }

  /** Moves on to the next event, as the grammar says. */
  private nextEvent(): void {
    const g = this.grammar!;
    this.eventStart = this.position;
    switch (g.position) {
      case "libxl-header":
        return this.expect("libxl-header", SIZES.libxlHeader);
      case "image-header":
        return this.expect("image-header", SIZES.imageHeader);
      case "domain-header":
        return this.expect("domain-header", SIZES.domainHeader);
      case "libxl-record":
        this.recordLayer = "libxl";
        return this.expect("record-header", SIZES.recordHeader);
      case "libxc-record":
        this.recordLayer = "libxc";
        return this.expect("record-header", SIZES.recordHeader);
      case "done":
        if (this.outerLayer === "libxc" && this.hvm) return this.expect("device-model-header", DEVICE_MODEL_HEADER);
        this.state = "done";
        this.need = 0;
        return;
      case "xl-header":
        return this.expect("xl-fixed", SIZES.xlHeader);
    }
  }

  /** `bytes` are the current event's bytes so far, exactly `need` of them. */
  private advance(bytes: Uint8Array, out: StreamEvent[]): void {
    const offset = this.eventStart;
    switch (this.state) {
      case "detect": {
        const layer: Layer | undefined = startsWithXlMagic(bytes)
          ? "xl"
          : startsWithLibxlIdent(bytes)
            ? "libxl"
            : startsWithImageMarker(bytes)
              ? "libxc"
              : undefined;
        if (layer === undefined) {
          throw this.streamError("bad-magic", 0, "xl", STREAM_MAGICS);
        }
        this.startAt(layer);
        return;
      }
      case "xl-fixed": {
        this.xlHeader = decodeXlFixedHeader(bytes, this.maxConfigLength, this.failer("xl", offset));
        this.expect("xl-optional", SIZES.xlHeader + this.xlHeader.optionalDataLength);
        return;
      }
      case "xl-optional": {
        const h = this.xlHeader!;
        const cfg = decodeXlConfig(h, bytes.subarray(SIZES.xlHeader), this.failer("xl", offset));
        out.push({ kind: "xl-header", offset, raw: bytes, ...h, ...cfg });
        this.grammar!.xlHeader();
        return this.nextEvent();
      }
      case "libxl-header": {
        const h = decodeLibxlHeader(bytes, this.failer("libxl", offset));
        this.libxlLittle = h.byteOrder === "little";
        out.push({ kind: "libxl-header", offset, raw: bytes, ...h });
        this.grammar!.libxlHeader();
        return this.nextEvent();
      }
      case "image-header": {
        const h = decodeImageHeader(bytes, this.failer("libxc", offset));
        this.libxcLittle = h.byteOrder === "little";
        out.push({ kind: "image-header", offset, raw: bytes, ...h });
        this.grammar!.imageHeader(h.version);
        return this.nextEvent();
      }
      case "domain-header": {
        const h = decodeDomainHeader(bytes, this.libxcLittle, this.failer("libxc", offset));
        out.push({ kind: "domain-header", offset, raw: bytes, ...h });
        this.hvm = h.domainTypeName === "x86-hvm";
        this.grammar!.domainHeader(h.domainTypeName);
        return this.nextEvent();
      }
      case "device-model-header": {
        if (!DEVICE_MODEL_SIGNATURE.every((b, i) => bytes[i] === b))
          throw this.streamError(
            "trailing-data",
            offset,
            "libxc",
            "end of stream after the final END record, or an HVM device model record (DeviceModelRecord0002)",
            "other bytes",
          );
        const length = dataView(bytes).getUint32(DEVICE_MODEL_SIGNATURE.length, this.libxcLittle);
        if (length > this.maxRecordLength)
          throw this.streamError(
            "too-large",
            offset,
            "libxc",
            `a device model record of at most ${this.maxRecordLength} bytes`,
            `${length} bytes`,
          );
        return this.expect("device-model-body", DEVICE_MODEL_HEADER + length);
      }
      case "device-model-body":
        out.push({ kind: "device-model", offset, raw: bytes, data: bytes.subarray(DEVICE_MODEL_HEADER) });
        this.state = "done";
        this.need = 0;
        return;
      case "record-header":
        return this.recordHeader(bytes, out);
      case "record-body":
        this.recordBody(bytes, out);
        return this.nextEvent();
      case "page-count": {
        const ctx = this.codec();
        this.pageCount = decodePageDataCount(bytes.subarray(SIZES.recordHeader), this.recordLength, ctx);
        if (this.pageCount > this.maxPagesPerRecord) {
          ctx.fail("too-large", `at most ${this.maxPagesPerRecord} pfns per PAGE_DATA record`, String(this.pageCount));
        }
        this.expect("page-pfns", SIZES.recordHeader + SIZES.pageDataHeader + this.pageCount * SIZES.pfnEntry);
        return;
      }
      case "page-pfns": {
        const ctx = this.codec();
        const first = SIZES.recordHeader + SIZES.pageDataHeader;
        const { pfns, dataPages } = decodePfnEntries(bytes.subarray(first), this.pageCount, ctx);
        const expected = pageDataLength(this.pageCount, dataPages);
        if (this.recordLength !== expected) {
          ctx.fail(
            "bad-length",
            `body_length ${expected} for ${this.pageCount} pfns with ${dataPages} pages`,
            String(this.recordLength),
          );
        }
        this.pfns = pfns;
        this.pageRaw = bytes;
        this.pages = [];
        this.pagesLeft = dataPages;
        this.state = "page-data";
        this.need = 0;
        if (dataPages === 0) this.finishPages(out);
        return;
      }
      default:
        throw new Error(`decoder in state ${this.state} was handed bytes`);
    }
  }

  private recordHeader(bytes: Uint8Array, out: StreamEvent[]): void {
    const le = this.recordLayer === "libxc" ? this.libxcLittle : this.libxlLittle;
    const v = dataView(bytes);
    this.recordType = v.getUint32(0, le);
    this.recordLength = v.getUint32(4, le);
    this.spec = recordSpec(this.recordLayer, this.recordType);
    const ctx = this.codec();
    const g = this.grammar!;
    if (this.recordLayer === "libxc") g.libxcRecord(this.recordType, this.spec, ctx.fail);
    else g.libxlRecord(this.recordType, this.spec, ctx.fail);
    const length = this.recordLength;
    // Checked before a single body byte is gathered: a hostile length costs nothing.
    if (length > this.maxRecordLength)
      ctx.fail("too-large", `body_length at most ${this.maxRecordLength}`, String(length));
    if (this.spec !== undefined && (length < this.spec.minLength || length > this.spec.maxLength)) {
      const range =
        this.spec.minLength === this.spec.maxLength
          ? `${this.spec.minLength}`
          : `${this.spec.minLength}..${this.spec.maxLength}`;
      ctx.fail("bad-length", `body_length ${range}`, String(length));
    }
    if (this.spec?.name === "PAGE_DATA" && this.recordLayer === "libxc") {
      this.expect("page-count", SIZES.recordHeader + SIZES.pageDataHeader);
      return;
    }
    if (this.spec === undefined) return this.unknownRecord(bytes, out);
    this.expect("record-body", SIZES.recordHeader + length + padLength(length));
  }

  /**
   * An optional record this reader does not know (the grammar refused an
   * unknown mandatory one): its event now, with the header as its bytes,
   * then its body and padding as "record-data" events, a view of each chunk
   * they arrive in. Up to 128 MiB of body nobody reads is never held.
   */
  private unknownRecord(header: Uint8Array, out: StreamEvent[]): void {
    out.push({
      kind: this.recordLayer === "libxc" ? "libxc-record" : "libxl-record",
      offset: this.eventStart,
      raw: header,
      type: this.recordType,
      length: this.recordLength,
      name: "UNKNOWN",
      fields: {},
    } as LibxcRecordEvent | LibxlRecordEvent);
    this.bodyTaken = 0;
    this.state = "unknown-body";
    this.need = 0;
    if (this.unknownBodyLength() === 0) this.nextEvent();
  }

  private unknownBodyLength(): number {
    return this.recordLength + padLength(this.recordLength);
  }

  /** Hands on what the chunk holds of an unknown record's body and padding; checks the padding is zero. */
  private takeUnknownBody(chunk: Uint8Array, pos: number, out: StreamEvent[]): number {
    const total = this.unknownBodyLength();
    const take = Math.min(total - this.bodyTaken, chunk.length - pos);
    const bytes = chunk.subarray(pos, pos + take);
    const padFrom = Math.max(0, this.recordLength - this.bodyTaken);
    if (padFrom < take && !isAllZero(bytes.subarray(padFrom)))
      this.codec().fail("bad-padding", "zero padding after the record body");
    out.push({ kind: "record-data", offset: this.position, raw: bytes, type: this.recordType });
    this.bodyTaken += take;
    this.position += take;
    if (this.bodyTaken === total) this.nextEvent();
    return pos + take;
  }

  private recordBody(bytes: Uint8Array, out: StreamEvent[]): void {
    const ctx = this.codec();
    const bodyEnd = SIZES.recordHeader + this.recordLength;
    if (!isAllZero(bytes.subarray(bodyEnd))) ctx.fail("bad-padding", "zero padding after the record body");
    const body = bytes.subarray(SIZES.recordHeader, bodyEnd);
    const spec = this.spec!;
    const event = {
      kind: this.recordLayer === "libxc" ? "libxc-record" : "libxl-record",
      offset: this.eventStart,
      raw: bytes,
      type: this.recordType,
      length: this.recordLength,
      name: spec.name,
      fields: spec.decode(body, ctx),
    };
    out.push(event as LibxcRecordEvent | LibxlRecordEvent);
  }

  /** Takes page payloads straight from the chunk as views; copies only a page split across chunks. */
  private takePages(chunk: Uint8Array, pos: number, out: StreamEvent[]): number {
    const len = chunk.length;
    const pages = this.pages;
    while (this.pagesLeft > 0 && pos < len) {
      if (this.partialPage === undefined) {
        if (len - pos >= PAGE_SIZE) {
          pages.push(chunk.subarray(pos, pos + PAGE_SIZE));
          pos += PAGE_SIZE;
          this.position += PAGE_SIZE;
          this.pagesLeft--;
          continue;
        }
        this.partialPage = new Uint8Array(PAGE_SIZE);
        this.partialFill = 0;
      }
      const take = Math.min(PAGE_SIZE - this.partialFill, len - pos);
      this.partialPage.set(chunk.subarray(pos, pos + take), this.partialFill);
      this.partialFill += take;
      pos += take;
      this.position += take;
      if (this.partialFill === PAGE_SIZE) {
        pages.push(this.partialPage);
        this.partialPage = undefined;
        this.partialFill = 0;
        this.pagesLeft--;
      }
    }
    if (this.pagesLeft === 0) this.finishPages(out);
    return pos;
  }

  private finishPages(out: StreamEvent[]): void {
    const event: PageDataEvent = {
      kind: "page-data",
      offset: this.eventStart,
      raw: this.pageRaw,
      type: this.recordType,
      length: this.recordLength,
      name: "PAGE_DATA",
      pfns: this.pfns,
      pages: this.pages,
    };
    out.push(event);
    this.pfns = [];
    this.pages = [];
    this.pageRaw = EMPTY;
    this.nextEvent();
  }

  private currentLayer(): Layer {
    switch (this.state) {
      case "detect":
      case "xl-fixed":
      case "xl-optional":
        return "xl";
      case "libxl-header":
        return "libxl";
      case "image-header":
      case "domain-header":
        return "libxc";
      default:
        return this.recordLayer;
    }
  }

  private codec(): CodecContext {
    const layer = this.recordLayer;
    const type = this.recordType;
    const offset = this.eventStart;
    return {
      littleEndian: layer === "libxc" ? this.libxcLittle : this.libxlLittle,
      fail: (reason, expected, actual) => {
        throw new RecordError({
          reason,
          offset,
          layer,
          recordType: type,
          recordName: recordName(layer, type),
          expected,
          actual,
        });
      },
    };
  }

  private failer(layer: Layer, offset: number): Fail {
    return (reason, expected, actual) => {
      throw this.streamError(reason, offset, layer, expected, actual);
    };
  }

  private streamError(
    reason: FormatErrorReason,
    offset: number,
    layer: Layer,
    expected: string,
    actual?: string,
  ): StreamError {
    return new StreamError({ reason, offset, layer, expected, actual });
  }
}

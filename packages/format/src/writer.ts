/**
 * The stream writer: headers, then records, with padding and byte order done
 * here once, validated by the same record table and grammar as the reader,
 * and waiting on the sink's backpressure.
 *
 * Specs: libxc-migration-stream.html (3 Headers, 4 Records, 5 Layout),
 * libxl-migration-stream.html (3 Header, 4 Record Overview); xl header in
 * Xen tools/xl/xl_saverestore.c.
 */
import { once } from "node:events";
import { ByteBuilder, concatBytes } from "./bytes.js";
import { type FormatErrorReason, type Layer, RecordError, StreamError } from "./errors.js";
import { StreamGrammar } from "./grammar.js";
import { encodeDomainHeader, encodeImageHeader } from "./libxc-headers.js";
import { encodeLibxlHeader } from "./libxl-header.js";
import {
  type ByteOrder,
  type DomainTypeName,
  type LibxcVersion,
  PAGE_SIZE,
  REC_LENGTH_MAX,
  SIZES,
  padLength,
} from "./layout.js";
import {
  type CodecContext,
  LIBXC_RECORDS,
  LIBXL_RECORDS,
  type LibxcFields,
  type LibxcRecordName,
  type LibxlFields,
  type LibxlRecordName,
  type PfnEntry,
  type RecordSpec,
  encodePageDataHead,
  pageDataLength,
} from "./records.js";
import { encodeXlHeader } from "./xl-header.js";

/** A Node Writable (its backpressure is honoured) or a function taking each chunk. */
export type ByteSink = NodeJS.WritableStream | ((chunk: Uint8Array) => void | Promise<void>);

export interface WriterOptions {
  /** Outermost layer to write (default "xl"). */
  layers?: Layer;
  byteOrder?: ByteOrder;
  libxcVersion?: LibxcVersion;
  domainType: DomainTypeName;
  xenMajor?: number;
  xenMinor?: number;
  /** xl layer: JSON domain config. */
  config?: unknown;
  /** xl layer: config in xl's text format (used when `config` is absent). */
  configText?: string;
  /** libxl layer: mark the stream as made by the legacy conversion tool. */
  legacy?: boolean;
}

export class StreamWriter {
  /** Bytes handed to the sink so far (the offset of the next byte). */
  bytesWritten = 0;
  private readonly grammar: StreamGrammar;
  private readonly layers: Layer;
  private readonly little: boolean;
  private readonly options: WriterOptions;
  private began = false;

  constructor(
    private readonly sink: ByteSink,
    options: WriterOptions,
  ) {
    this.options = options;
    this.layers = options.layers ?? "xl";
    this.little = (options.byteOrder ?? "little") === "little";
    this.grammar = new StreamGrammar(this.layers);
  }

  /** Writes every header down to the libxc domain header (xl, libxl, LIBXC_CONTEXT, image, domain). */
  async begin(): Promise<void> {
    if (this.began) this.usage("begin() once");
    this.began = true;
    const o = this.options;
    const byteOrder = o.byteOrder ?? "little";
    if (this.layers === "xl") {
      await this.put(encodeXlHeader({ byteOrder, config: o.config, configText: o.configText }));
      this.grammar.xlHeader();
    }
    if (this.layers !== "libxc") {
      await this.put(encodeLibxlHeader(byteOrder, o.legacy ?? false));
      this.grammar.libxlHeader();
      await this.libxl("LIBXC_CONTEXT", {});
    }
    const version = o.libxcVersion ?? 3;
    await this.put(encodeImageHeader(version, byteOrder));
    this.grammar.imageHeader(version);
    await this.put(encodeDomainHeader(o.domainType, o.xenMajor ?? 4, o.xenMinor ?? 17, this.little));
    this.grammar.domainHeader(o.domainType);
  }

  /** Writes one libxc record (not PAGE_DATA: use pageData()). */
  async libxc<K extends Exclude<LibxcRecordName, "PAGE_DATA">>(name: K, fields: LibxcFields[K]): Promise<void> {
    if (this.grammar.position !== "libxc-record") this.usage("libxc records only between begin() and endLibxc()");
    const spec = LIBXC_RECORDS[name] as RecordSpec<LibxcFields[K]>;
    const body = spec.encode(fields, this.codec("libxc", spec));
    await this.record("libxc", spec, body, []);
  }

  /** Writes one libxl record; LIBXC_CONTEXT is written by begin(), END by end(). */
  async libxl<K extends LibxlRecordName>(name: K, fields: LibxlFields[K]): Promise<void> {
    if (this.grammar.position !== "libxl-record")
      this.usage("libxl records only before begin()'s libxc stream or after endLibxc()");
    const spec = LIBXL_RECORDS[name] as RecordSpec<LibxlFields[K]>;
    const body = spec.encode(fields, this.codec("libxl", spec));
    await this.record("libxl", spec, body, []);
  }

  /**
   * Writes one PAGE_DATA record: the pfn entries, and one PAGE_SIZE page per
   * entry whose type carries data, in the same order.
   */
  async pageData(pfns: readonly PfnEntry[], pages: readonly Uint8Array[]): Promise<void> {
    if (this.grammar.position !== "libxc-record") this.usage("PAGE_DATA only between begin() and endLibxc()");
    const spec = LIBXC_RECORDS.PAGE_DATA as RecordSpec<unknown>;
    const ctx = this.codec("libxc", spec);
    const { head, dataPages } = encodePageDataHead(pfns, ctx);
    if (pages.length !== dataPages)
      ctx.fail("bad-value", `${dataPages} pages for the pfns given`, String(pages.length));
    for (const page of pages)
      if (page.length !== PAGE_SIZE) ctx.fail("bad-length", `${PAGE_SIZE}-byte pages`, String(page.length));
    if (pageDataLength(pfns.length, dataPages) !== head.length + dataPages * PAGE_SIZE)
      throw new Error("PAGE_DATA length mismatch");
    await this.record("libxc", spec, head, pages);
  }

  /** Writes the libxc END record; a libxl stream goes on with libxl records. */
  async endLibxc(): Promise<void> {
    await this.libxc("END", {});
  }

  /** Writes the remaining END records (libxc, then libxl). */
  async end(): Promise<void> {
    if (!this.began) this.usage("begin() before end()");
    if (this.grammar.position === "libxc-record") await this.endLibxc();
    if (this.grammar.position === "libxl-record") await this.libxl("END", {});
  }

  private async record(
    layer: "libxc" | "libxl",
    spec: RecordSpec<unknown>,
    body: Uint8Array,
    pages: readonly Uint8Array[],
  ): Promise<void> {
    const ctx = this.codec(layer, spec);
    const length = body.length + pages.length * PAGE_SIZE;
    if (length > REC_LENGTH_MAX) ctx.fail("too-large", `body_length at most ${REC_LENGTH_MAX}`, String(length));
    if (length < spec.minLength || length > spec.maxLength)
      ctx.fail("bad-length", `body_length ${spec.minLength}..${spec.maxLength}`, String(length));
    if (layer === "libxc") this.grammar.libxcRecord(spec.type, spec, ctx.fail);
    else this.grammar.libxlRecord(spec.type, spec, ctx.fail);
    const pad = padLength(length);
    const header = new ByteBuilder(SIZES.recordHeader, this.little).u32(spec.type).u32(length).bytes;
    if (pages.length === 0) {
      await this.put(concatBytes([header, body, new Uint8Array(pad)]));
      return;
    }
    // PAGE_DATA bodies are whole multiples of 8: no padding.
    await this.put(concatBytes([header, body]));
    await this.put(joinPages(pages));
  }

  private codec(layer: "libxc" | "libxl", spec: RecordSpec<unknown>): CodecContext {
    const offset = this.bytesWritten;
    return {
      littleEndian: this.little,
      fail: (reason: FormatErrorReason, expected: string, actual?: string): never => {
        throw new RecordError({
          reason,
          offset,
          layer,
          recordType: spec.type,
          recordName: spec.name,
          expected,
          actual,
        });
      },
    };
  }

  private usage(expected: string): never {
    throw new StreamError({ reason: "usage", offset: this.bytesWritten, layer: this.layers, expected });
  }

  private async put(chunk: Uint8Array): Promise<void> {
    this.bytesWritten += chunk.length;
    const sink = this.sink;
    if (typeof sink === "function") {
      await sink(chunk);
      return;
    }
    if (!sink.write(chunk)) await drained(sink);
  }
}

/** Pages that already sit back to back in one buffer go out as one view; others are joined. */
function joinPages(pages: readonly Uint8Array[]): Uint8Array {
  const first = pages[0]!;
  let contiguous = true;
  for (let i = 1; i < pages.length && contiguous; i++) {
    const page = pages[i]!;
    contiguous = page.buffer === first.buffer && page.byteOffset === first.byteOffset + i * PAGE_SIZE;
  }
  return contiguous ? new Uint8Array(first.buffer, first.byteOffset, pages.length * PAGE_SIZE) : concatBytes(pages);
}

/** Resolves on 'drain'; rejects if the sink errors or closes first. */
async function drained(sink: NodeJS.WritableStream): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([
      once(sink, "drain", { signal: ac.signal }),
      once(sink, "close", { signal: ac.signal }).then(() => {
        throw new Error("sink closed before it drained");
      }),
    ]);
  } finally {
    ac.abort();
  }
}

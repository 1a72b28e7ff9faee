import type { Writable } from "node:stream";
import { MAX_BATCH_SIZE, PageType, StreamWriter } from "@xenfleet/format";
import type { DomainType } from "../hypervisor.js";
import { PAGE_SIZE } from "./content.js";
import type { DomainMemory } from "./memory.js";
import type { Platform } from "./platform.js";
import { endSink, writeChunk } from "@xenfleet/core";

/** Xen version the sim claims in the domain header: the one whose tools we verify against. */
export const SIM_XEN_VERSION = { major: 4, minor: 17 } as const;

/**
 * Writes one domain's save stream through the format package's writer, in
 * the order a Xen 4.17 save produces: headers, static records,
 * STATIC_DATA_END, (PV) P2M frames, PAGE_DATA passes, then the vCPU and
 * platform records, libxc END, emulator state, libxl END.
 *
 * `bytes` counts what the sink has accepted, which is what pre-copy measures
 * its send rate from.
 */
export class SaveStreamBuilder {
  bytes = 0;
  private readonly writer: StreamWriter;

  constructor(
    private readonly sink: Writable,
    readonly type: DomainType,
    readonly config: unknown,
    private readonly platform: Platform,
    private readonly signal?: AbortSignal,
  ) {
    this.writer = new StreamWriter(
      async (chunk: Uint8Array) => {
        this.bytes += chunk.length;
        await writeChunk(sink, chunk, signal);
      },
      {
        layers: "xl",
        byteOrder: "little",
        libxcVersion: 3,
        domainType: type === "pv" ? "x86-pv" : "x86-hvm",
        xenMajor: SIM_XEN_VERSION.major,
        xenMinor: SIM_XEN_VERSION.minor,
        config,
      },
    );
  }

  async begin(): Promise<void> {
    await this.writer.begin();
    for (const rec of this.platform.static) await this.libxc(rec.name, rec.fields);
    await this.writer.libxc("STATIC_DATA_END", {});
    for (const rec of this.platform.early) await this.libxc(rec.name, rec.fields);
  }

  /**
   * Sends the given pfns (ascending) in PAGE_DATA records of up to 1024
   * pages, reading contiguous runs from memory in one go. `beforeBatch` runs
   * before each batch is read (the guest keeps writing meanwhile).
   */
  async sendPages(memory: DomainMemory, pfns: Iterable<number>, beforeBatch?: () => Promise<void>): Promise<number> {
    let sent = 0;
    let batch: number[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      this.signal?.throwIfAborted();
      if (beforeBatch) await beforeBatch();
      // A fresh buffer per batch: the sink may still hold the previous one.
      const buf = Buffer.allocUnsafe(batch.length * PAGE_SIZE);
      for (let i = 0; i < batch.length; ) {
        let j = i + 1;
        while (j < batch.length && batch[j] === batch[j - 1]! + 1) j++;
        await memory.read(batch[i]!, j - i, buf.subarray(i * PAGE_SIZE, j * PAGE_SIZE));
        i = j;
      }
      const types = this.platform.pageTypes;
      const entries = batch.map((pfn) => ({ pfn, type: types[pfn] ?? PageType.NOTAB }));
      const pages = batch.map((_, i) => buf.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
      await this.writer.pageData(entries, pages);
      sent += batch.length;
      batch = [];
    };
    for (const pfn of pfns) {
      batch.push(pfn);
      if (batch.length === MAX_BATCH_SIZE) await flush();
    }
    await flush();
    return sent;
  }

  /** Everything after the memory: vCPU and platform records, both ENDs; ends the sink. */
  async finish(): Promise<void> {
    for (const rec of this.platform.late) await this.libxc(rec.name, rec.fields);
    await this.writer.endLibxc();
    for (const rec of this.platform.libxl) await this.writer.libxl(rec.name as never, rec.fields as never);
    await this.writer.end();
    await endSink(this.sink, this.signal);
  }

  private async libxc(name: string, fields: unknown): Promise<void> {
    // Platform records come from a stream the format package decoded, or
    // from the generator using the same field shapes.
    await this.writer.libxc(name as never, fields as never);
  }
}

/** All pfns of a domain, in order, without building an array. */
export function* allPfns(pages: number): Iterable<number> {
  for (let pfn = 0; pfn < pages; pfn++) yield pfn;
}

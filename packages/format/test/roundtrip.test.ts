import fc from "fast-check";
import { Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { type StreamEvent, StreamWriter, type WriterOptions, readStream } from "../src/index.js";
import { decodeChunked, reserialize, sampleBytes } from "./helpers.js";

const KINDS = (["xl", "libxl", "libxc"] as const).flatMap((layers) =>
  (["x86-pv", "x86-hvm"] as const).flatMap((domainType) =>
    ([2, 3] as const).flatMap((libxcVersion) =>
      (["little", "big"] as const).map((byteOrder) => ({ layers, domainType, libxcVersion, byteOrder })),
    ),
  ),
);

/** Drives a StreamWriter from decoded events: what a consumer of the reader would do to re-create a stream. */
async function rewrite(events: readonly StreamEvent[]): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const options: Partial<WriterOptions> = {};
  let writer: StreamWriter | undefined;
  for (const e of events) {
    switch (e.kind) {
      case "xl-header":
        Object.assign(options, { layers: "xl", byteOrder: e.byteOrder, config: e.config });
        break;
      case "libxl-header":
        options.layers ??= "libxl";
        options.byteOrder = e.byteOrder;
        break;
      case "image-header":
        options.layers ??= "libxc";
        Object.assign(options, { libxcVersion: e.version, byteOrder: e.byteOrder });
        break;
      case "domain-header":
        writer = new StreamWriter((c) => void chunks.push(c.slice()), {
          ...options,
          domainType: e.domainTypeName,
          xenMajor: e.xenMajor,
          xenMinor: e.xenMinor,
        });
        await writer.begin();
        break;
      case "page-data":
        await writer!.pageData(e.pfns, e.pages);
        break;
      case "libxc-record":
        if (e.name === "UNKNOWN") throw new Error("unexpected unknown record");
        await writer!.libxc(e.name as "VERIFY", e.fields as Record<string, never>);
        break;
      case "libxl-record":
        if (e.name === "LIBXC_CONTEXT") break; // written by begin()
        if (e.name === "END") await writer!.end();
        else if (e.name !== "UNKNOWN")
          await writer!.libxl(e.name as "CHECKPOINT_END", e.fields as Record<string, never>);
        break;
    }
  }
  return Buffer.concat(chunks);
}

describe("round trip", () => {
  it.each(KINDS)(
    "$layers $domainType v$libxcVersion $byteOrder-endian: read back, rewritten to identical bytes",
    async (kind) => {
      const bytes = await sampleBytes({ ...kind, pages: 1500, seed: 3 });
      const events = decodeChunked(bytes, [65536]);
      expect(reserialize(events).equals(Buffer.from(bytes))).toBe(true);
      const pages = events
        .filter((e) => e.kind === "page-data")
        .reduce((n, e) => n + (e.kind === "page-data" ? e.pages.length : 0), 0);
      expect(pages).toBe(1500);
      expect((await rewrite(events)).equals(Buffer.from(bytes))).toBe(true);
      const last = events.at(-1)!;
      expect(last.kind === "libxl-record" || last.kind === "libxc-record" ? last.name : last.kind).toBe("END");
    },
  );

  it("yields events whose offsets are where their bytes start", async () => {
    const bytes = await sampleBytes({ layers: "xl", domainType: "x86-pv", pages: 40 });
    const events = decodeChunked(bytes, [333]);
    let offset = 0;
    for (const e of events) {
      expect(e.offset).toBe(offset);
      expect(Buffer.from(e.raw).equals(Buffer.from(bytes.subarray(offset, offset + e.raw.length)))).toBe(true);
      offset += reserialize([e]).length;
    }
    expect(offset).toBe(bytes.length);
  });

  it("decodes the fields the writer was given", async () => {
    const bytes = await sampleBytes({ layers: "xl", domainType: "x86-pv", pages: 600, libxcVersion: 3, seed: 9 });
    const events = decodeChunked(bytes);
    const xl = events[0]!;
    expect(xl.kind).toBe("xl-header");
    if (xl.kind === "xl-header") expect(xl.config).toMatchObject({ c_info: { type: "pv", name: "sample-9" } });
    const info = events.find((e) => e.kind === "libxc-record" && e.name === "X86_PV_INFO");
    expect(info && "fields" in info ? info.fields : undefined).toEqual({ guestWidth: 8, ptLevels: 4 });
    const first = events.find((e) => e.kind === "page-data");
    if (first?.kind !== "page-data") throw new Error("no PAGE_DATA");
    expect(first.pfns.slice(0, 5).map((p) => p.type)).toEqual([0, 1, 2, 3, 0xc]);
    expect(first.pages.every((p) => p.length === 4096)).toBe(true);
    const tail = events.filter((e) => e.kind === "page-data").at(-1);
    if (tail?.kind !== "page-data") throw new Error("no PAGE_DATA");
    expect(tail.pfns.at(-1)!.type).toBe(0xf); // XTAB: an entry with no page
    expect(tail.pages.length).toBe(tail.pfns.length - 1);
  });

  it("gives the same events and bytes whatever the split point (every boundary)", async () => {
    const bytes = await sampleBytes({ layers: "xl", domainType: "x86-hvm", pages: 2, seed: 5 });
    const whole = decodeChunked(bytes);
    const shape = (events: StreamEvent[]) => events.map((e) => `${e.kind}:${"name" in e ? e.name : ""}@${e.offset}`);
    for (let split = 1; split < bytes.length; split++) {
      const events = decodeChunked(bytes, [split, bytes.length]);
      expect(shape(events)).toEqual(shape(whole));
      expect(reserialize(events).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it("gives the same events and bytes for random chunkings", async () => {
    const streams = await Promise.all(
      KINDS.filter((k) => k.libxcVersion === 3).map((k) => sampleBytes({ ...k, pages: 5, batchSize: 2, seed: 11 })),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: streams.length - 1 }),
        fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 20 }),
        (which, sizes) => {
          const bytes = streams[which]!;
          expect(reserialize(decodeChunked(bytes, sizes)).equals(Buffer.from(bytes))).toBe(true);
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  it("reads from a Node Readable, an async iterable and a file path alike", async () => {
    const bytes = await sampleBytes({ layers: "libxl", pages: 10 });
    const fromReadable: Uint8Array[] = [];
    for await (const e of readStream(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)])))
      fromReadable.push(...[e.raw]);
    async function* gen() {
      for (let i = 0; i < bytes.length; i += 4097) yield bytes.subarray(i, i + 4097);
    }
    const events: StreamEvent[] = [];
    for await (const e of readStream(gen())) events.push(e);
    expect(reserialize(events).equals(Buffer.from(bytes))).toBe(true);
    expect(fromReadable.length).toBe(events.length);
  });

  it("writes to a Writable honouring its backpressure", async () => {
    const received: Buffer[] = [];
    let maxQueued = 0;
    let writes = 0;
    const sink = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, done) {
        received.push(chunk);
        setImmediate(done);
      },
    });
    const original = sink.write.bind(sink);
    sink.write = ((chunk: Uint8Array) => {
      writes++;
      maxQueued = Math.max(maxQueued, sink.writableLength);
      return original(chunk);
    }) as typeof sink.write;
    const { writeSampleStream } = await import("../src/index.js");
    await writeSampleStream(sink, { pages: 3000, layers: "xl" });
    await new Promise<void>((r) => sink.end(r));
    // The writer never writes while earlier chunks above the high-water mark are queued.
    expect(maxQueued).toBeLessThanOrEqual(1024);
    expect(writes).toBeGreaterThan(3);
    expect(Buffer.concat(received).equals(Buffer.from(await sampleBytes({ pages: 3000, layers: "xl" })))).toBe(true);
  });
});

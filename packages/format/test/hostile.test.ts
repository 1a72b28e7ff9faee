import { describe, expect, it } from "vitest";
import { XenfleetError } from "@xenfleet/core";
import { FormatError, RecordError, StreamDecoder, StreamError, verifyStream } from "../src/index.js";
import { brokenCases, readerOnlyCases } from "./broken.js";
import { decodeChunked, patch, reserialize, sampleBytes, u32 } from "./helpers.js";

const cases = [...(await brokenCases()), ...(await readerOnlyCases())];

describe("hostile inputs", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    for (const sizes of [[c.bytes.length], [1], [7, 4096, 13]]) {
      let caught: unknown;
      try {
        decodeChunked(c.bytes, sizes, { format: c.format });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(c.error === "StreamError" ? StreamError : RecordError);
      const err = caught as FormatError;
      expect(err.reason).toBe(c.reason);
      expect(err.layer).toBe(c.layer);
      if (c.recordName !== undefined) expect(err.recordName).toBe(c.recordName);
      expect(err.offset).toBeGreaterThanOrEqual(0);
      expect(err.offset).toBeLessThanOrEqual(c.bytes.length);
      expect(err.expected.length).toBeGreaterThan(0);
    }
    const verdict = await verifyStream([c.bytes], { format: c.format });
    expect(verdict.ok).toBe(false);
  });

  it("calls an input shorter than any header that no stream starts with bad-magic, not truncated", async () => {
    for (const text of ["", "vm\n", "abc", "LibxlFm!"]) {
      const verdict = await verifyStream([Buffer.from(text, "latin1")]);
      expect(verdict.ok ? undefined : verdict.error.reason, JSON.stringify(text)).toBe("bad-magic");
    }
    // The start of a real stream, cut short, is truncated.
    for (const head of ["Xen saved", "Libx", "\xff\xff\xff"]) {
      const verdict = await verifyStream([Buffer.from(head, "latin1")]);
      expect(verdict.ok ? undefined : verdict.error.reason, JSON.stringify(head)).toBe("truncated");
    }
  });

  it("refuses a hostile length from the record header alone, before any body byte arrives", async () => {
    const bytes = await sampleBytes({ layers: "libxc", pages: 1 });
    const events = decodeChunked(bytes);
    const tsc = events.find((e) => "name" in e && e.name === "X86_TSC_INFO")!;
    const hostile = patch(bytes, tsc.offset + 4, u32(0xfffffff8));
    const decoder = new StreamDecoder();
    decoder.push(hostile.subarray(0, tsc.offset));
    const before = process.memoryUsage().arrayBuffers;
    expect(() => decoder.push(hostile.subarray(tsc.offset, tsc.offset + 8))).toThrow(RecordError);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
  });

  it("refuses PAGE_DATA with more pfns than the reader's limit", async () => {
    const bytes = await sampleBytes({ layers: "libxc", pages: 100 });
    expect(() => decodeChunked(bytes, [bytes.length], { maxPagesPerRecord: 50 })).toThrow(/too-large/);
  });

  it("skips an unknown optional record, passing its bytes through", async () => {
    const bytes = await sampleBytes({ layers: "libxc", domainType: "x86-hvm", pages: 3 });
    const events = decodeChunked(bytes);
    const at = events.find((e) => e.kind === "page-data")!.offset;
    const optional = Buffer.concat([u32(0x80000013), u32(5), Buffer.from("hello"), Buffer.alloc(3)]);
    const withOptional = Buffer.concat([bytes.subarray(0, at), optional, bytes.subarray(at)]);
    const read = decodeChunked(withOptional, [3]);
    const unknown = read.find((e) => e.kind === "libxc-record" && e.name === "UNKNOWN");
    expect(unknown).toMatchObject({ type: 0x80000013, length: 5, offset: at });
    expect(Buffer.from(unknown!.raw).equals(optional.subarray(0, 8))).toBe(true);
    // The body and padding follow as record-data events, split where the chunks were.
    const data = read.filter((e) => e.kind === "record-data");
    expect(data.length).toBeGreaterThan(1);
    expect(Buffer.concat(data.map((e) => e.raw)).toString("latin1")).toBe("hello\0\0\0");
    expect(data[0]!.offset).toBe(at + 8);
    expect(reserialize(read).equals(withOptional)).toBe(true);
    expect((await verifyStream([withOptional])).ok).toBe(true);
    // Its padding is still checked, and a stream ending inside it is truncated.
    const badPadding = Buffer.from(withOptional);
    badPadding[at + 8 + 5 + 2] = 1;
    expect(() => decodeChunked(badPadding, [3])).toThrow(/bad-padding/);
    expect(() => decodeChunked(withOptional.subarray(0, at + 10))).toThrow(/truncated/);
  });

  it("streams past a large unknown optional record instead of gathering it (regression: a 128 MiB record took 6x its size)", async () => {
    const bytes = await sampleBytes({ layers: "libxc", domainType: "x86-hvm", pages: 3 });
    const at = decodeChunked(bytes).find((e) => e.kind === "page-data")!.offset;
    const MiB = 1024 * 1024;
    const piece = new Uint8Array(MiB).fill(7);
    const decoder = new StreamDecoder();
    decoder.push(bytes.subarray(0, at));
    decoder.push(Buffer.concat([u32(0x80000042), u32(64 * MiB)]));
    const before = process.memoryUsage().arrayBuffers;
    let passed = 0;
    // The same 1 MiB chunk 64 times: a reader that gathered the body would have to join the pieces into 64 MiB.
    for (let i = 0; i < 64; i++)
      for (const e of decoder.push(piece)) if (e.kind === "record-data") passed += e.raw.length;
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * MiB);
    expect(passed).toBe(64 * MiB);
    decoder.push(bytes.subarray(at));
    decoder.end();
    expect(decoder.finished).toBe(true);
  });

  it("each error class has one fixed code and is unrecoverable", () => {
    const details = { reason: "truncated", offset: 5, layer: "libxc", expected: "x" } as const;
    const table = [
      [new StreamError(details), "XF_FORMAT_STREAM"],
      [new RecordError({ ...details, recordType: 8, recordName: "X86_TSC_INFO" }), "XF_FORMAT_RECORD"],
    ] as const;
    for (const [error, code] of table) {
      expect(error).toBeInstanceOf(XenfleetError);
      expect(error).toBeInstanceOf(FormatError);
      expect(error.code).toBe(code);
      expect(error.unrecoverable).toBe(true);
      expect(error.message).toContain("offset 5");
    }
    expect(table[1][0].message).toContain("X86_TSC_INFO (0x00000008)");
  });
});

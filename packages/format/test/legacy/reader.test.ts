import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { XenfleetError } from "@xenfleet/core";
import {
  Chunk,
  LegacyDetectError,
  LegacyError,
  LegacyStreamError,
  detectLegacy,
  readLegacy,
  writeLegacyStream,
} from "../../src/legacy/index.js";
import { StreamDecoder } from "../../src/decoder.js";
import { convertAll, rejection } from "./helpers.js";

const le32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};

/** Offset of the first body chunk marker of an HVM stream (right after p2m_size). */
const hvmBody = (width: 32 | 64) => (width === 32 ? 4 : 8);

async function legacyError(input: Uint8Array | Uint8Array[], options = {}): Promise<LegacyError> {
  const err = await rejection(convertAll(input, options));
  expect(err).toBeInstanceOf(LegacyError);
  return err as LegacyError;
}

describe("legacy reader: chunking", () => {
  const stream = writeLegacyStream({
    width: 32,
    guest: "pv",
    guestWidth: 4,
    pages: 2,
    vcpus: [0],
    xsaveSize: 64,
    seed: 3,
  });

  it("gives the same output whatever the chunk boundaries", async () => {
    const whole = await convertAll(stream, { format: "libxl" });
    const cuts: number[] = [];
    for (let at = 1; at < stream.length; at += at < 512 ? 1 : 97) cuts.push(at);
    for (const at of cuts) {
      const split = await convertAll([stream.subarray(0, at), stream.subarray(at)], { format: "libxl" });
      expect(split.equals(whole), `split at ${at}`).toBe(true);
    }
    for (const size of [1, 3, 4095]) {
      const pieces: Uint8Array[] = [];
      for (let at = 0; at < stream.length; at += size) pieces.push(stream.subarray(at, at + size));
      expect((await convertAll(pieces, { format: "libxl" })).equals(whole), `${size}-byte chunks`).toBe(true);
    }
  });

  it("reports events with offsets in stream order", async () => {
    const kinds: string[] = [];
    let last = -1;
    for await (const e of readLegacy([stream])) {
      kinds.push(e.kind);
      expect(e.offset).toBeGreaterThanOrEqual(last);
      last = e.offset;
    }
    expect(kinds[0]).toBe("p2m-size");
    expect(kinds).toContain("pv-info");
    expect(kinds.at(-1)).toBe("end");
    expect(last).toBe(stream.length);
  });
});

describe("legacy reader: hostile input", () => {
  it("refuses every truncation with a typed error at or before the cut", async () => {
    const stream = writeLegacyStream({
      width: 64,
      guest: "hvm",
      pages: 2,
      toolstack: [{ physOffset: 1n, startAddr: 2n, size: 3n, name: "x" }],
      seed: 5,
    });
    for (let at = 0; at < stream.length; at += at < 600 ? 1 : 211) {
      const err = await legacyError(stream.subarray(0, at), { width: 64, guest: "hvm", format: "libxl" });
      expect(err.reason, `cut at ${at}`).toBe("truncated");
      expect(err.offset).toBeLessThanOrEqual(at);
    }
  });

  it("never throws anything but a LegacyError on mutated streams", async () => {
    const base = writeLegacyStream({
      width: 32,
      guest: "hvm",
      pages: 1,
      hvmContextSize: 40,
      qemu: new Uint8Array(16),
      seed: 9,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(base.length),
        async (edits, cut) => {
          const bytes = Buffer.from(base.subarray(0, Math.max(cut, 1)));
          for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
          try {
            await convertAll(bytes, { format: "libxl" });
          } catch (err) {
            expect(err).toBeInstanceOf(LegacyError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a page batch above 1024 pages before reading it", async () => {
    const stream = Buffer.concat([le32(100), le32(5000), Buffer.alloc(64)]);
    const err = await legacyError(stream, { width: 32, guest: "hvm" });
    expect(err).toMatchObject({ reason: "bad-count", offset: 4, part: "page batch" });
    expect(err.expected).toContain("1024");
  });

  it("refuses a max_vcpu_id out of range", async () => {
    const stream = Buffer.concat([le32(100), le32(Chunk.VCPU_INFO), le32(5000)]);
    expect(await legacyError(stream, { width: 32, guest: "hvm" })).toMatchObject({ reason: "bad-count", offset: 8 });
  });

  it("refuses a hostile HVM context length without allocating it", async () => {
    const base = writeLegacyStream({ width: 32, guest: "hvm", pages: 1, hvmContextSize: 8, qemu: null, seed: 1 });
    const lengthAt = base.length - 12; // u32 length, then 8 bytes of context
    const huge = Buffer.from(base);
    huge.writeUInt32LE(0xffff_fff0, lengthAt);
    expect(await legacyError(huge, { skipQemu: true })).toMatchObject({
      reason: "bad-count",
      offset: lengthAt,
      part: "HVM tail",
    });
    // Below the record limit but far beyond the data: truncation, after only the bytes present.
    const long = Buffer.from(base);
    long.writeUInt32LE(100 * 1024 * 1024, lengthAt);
    const err = await legacyError(long, { skipQemu: true });
    expect(err.reason).toBe("truncated");
    expect(err.actual).toContain("end of stream");
  });

  it("refuses a hostile device-model length and a toolstack chunk too big to parse", async () => {
    const base = writeLegacyStream({ width: 64, guest: "hvm", pages: 1, qemu: new Uint8Array(8), seed: 1 });
    const qemu = Buffer.from(base);
    qemu.writeUInt32LE(0xffff_ffff, base.length - 12);
    expect(await legacyError(qemu)).toMatchObject({ reason: "bad-count", part: "device-model record" });

    const toolstack = Buffer.concat([
      Buffer.from(base.subarray(0, 8)),
      le32(Chunk.TOOLSTACK),
      le32(0x7fff_0000),
      Buffer.alloc(16),
    ]);
    expect(await legacyError(toolstack, { width: 64, guest: "hvm", format: "libxl" })).toMatchObject({
      reason: "bad-count",
      part: "chunk TOOLSTACK",
    });
    // In a libxc stream the toolstack data is skipped as it streams by, so only truncation is left.
    expect(await legacyError(toolstack, { width: 64, guest: "hvm", format: "libxc" })).toMatchObject({
      reason: "truncated",
    });
  });

  it("refuses more unmapped pfns than p2m_size", async () => {
    const stream = writeLegacyStream({ width: 64, guest: "pv", pages: 1, vcpus: [0], unmapped: 0, seed: 1 });
    // The tail starts after the end marker: find it from the end (shared info, extended and basic context).
    const tailAt = stream.length - 4096 - 128 - 0x1430 - 4;
    const bad = Buffer.from(stream);
    bad.writeUInt32LE(1_000_000, tailAt);
    expect(await legacyError(bad)).toMatchObject({ reason: "bad-count", offset: tailAt, part: "PV tail" });
  });

  it("refuses an extended-info block that overruns the extended info", async () => {
    const stream = Buffer.from(writeLegacyStream({ width: 32, guest: "pv", guestWidth: 4, pages: 1, seed: 1 }));
    stream.writeUInt32LE(0xffff, 16); // the "vcpu" block's size
    expect(await legacyError(stream, { width: 32, guest: "pv" })).toMatchObject({ reason: "bad-count", offset: 12 });
  });

  it("refuses reserved page types, duplicate pfns and empty batches", async () => {
    const head = (entries: number[]) =>
      Buffer.concat([
        le32(100),
        le32(entries.length),
        ...entries.map((e) => {
          const b = Buffer.alloc(4);
          b.writeUInt32LE(e);
          return b;
        }),
      ]);
    expect(await legacyError(head([0x5000_0001]), { width: 32, guest: "hvm" })).toMatchObject({
      reason: "bad-value",
      offset: 8,
    });
    expect(await legacyError(head([1, 2, 1]), { width: 32, guest: "hvm" })).toMatchObject({
      reason: "bad-value",
      offset: 16,
    });
    expect(await legacyError(head([0xf000_0000, 0xf000_0000]), { width: 32, guest: "hvm" })).toMatchObject({
      reason: "bad-value",
      offset: 4,
    });
  });

  it("refuses tmem and compression chunks as unsupported, unknown chunks as bad", async () => {
    for (const chunk of [Chunk.TMEM, Chunk.COMPRESSED_DATA]) {
      expect(await legacyError(Buffer.concat([le32(100), le32(chunk)]), { width: 32, guest: "hvm" })).toMatchObject({
        reason: "unsupported",
        offset: 4,
      });
    }
    expect(await legacyError(Buffer.concat([le32(100), le32(-99)]), { width: 32, guest: "hvm" })).toMatchObject({
      reason: "bad-value",
      offset: 4,
    });
  });

  it("refuses an HVM-only chunk in a PV stream", async () => {
    const stream = writeLegacyStream({ width: 64, guest: "pv", pages: 0, seed: 1 });
    // Replace the TSC chunk (marker + 20 bytes) that follows the p2m frame list with an HVM param chunk.
    const at = Buffer.from(stream).indexOf(le32(Chunk.TSC_INFO), 8);
    const bad = Buffer.from(stream);
    bad.writeInt32LE(Chunk.HVM_IDENT_PT, at);
    expect(await legacyError(bad)).toMatchObject({ reason: "bad-value", offset: at, part: "chunk HVM_IDENT_PT" });
  });

  it("requires the device-model record unless told to skip it, and refuses unknown signatures", async () => {
    const bare = writeLegacyStream({ width: 64, guest: "hvm", pages: 1, qemu: null, seed: 1 });
    const missing = await legacyError(bare);
    expect(missing).toMatchObject({ reason: "truncated", part: "device-model record", offset: bare.length });
    expect(missing.expected).toContain("--skip-qemu");
    await expect(convertAll(bare, { skipQemu: true })).resolves.toBeInstanceOf(Buffer);
    // A libxl stream always carries the device model, so --skip-qemu does not apply (as in Xen).
    expect(await legacyError(bare, { skipQemu: true, format: "libxl" })).toMatchObject({ reason: "truncated" });

    const old = Buffer.concat([bare, Buffer.from("QemuDeviceModelRecord"), Buffer.alloc(8)]);
    expect(await legacyError(old)).toMatchObject({ reason: "unsupported", offset: bare.length });
    const junk = Buffer.concat([bare, Buffer.from("NotADeviceModelRecord")]);
    expect(await legacyError(junk)).toMatchObject({ reason: "bad-value", offset: bare.length });
  });

  it("refuses trailing data after a complete stream", async () => {
    const stream = writeLegacyStream({ width: 32, guest: "pv", guestWidth: 4, pages: 1, seed: 1 });
    expect(await legacyError(Buffer.concat([stream, Buffer.alloc(3)]))).toMatchObject({
      reason: "trailing-data",
      offset: stream.length,
    });
  });

  it("refuses an xl header that announces a v2 stream", async () => {
    const stream = Buffer.from(writeLegacyStream({ width: 64, guest: "pv", pages: 1, seed: 1, xl: { config: {} } }));
    stream.writeUInt32LE(stream.readUInt32LE(36) | 2, 36);
    expect(await legacyError(stream)).toMatchObject({ reason: "not-legacy", offset: 0, part: "xl header" });
  });
});

describe("legacy errors", () => {
  it.each([
    [
      new LegacyStreamError({ reason: "truncated", offset: 7, part: "page batch", expected: "4096 bytes" }),
      "XF_LEGACY_STREAM",
    ],
    [
      new LegacyDetectError({ reason: "undecidable", offset: 0, part: "stream start", expected: "--width" }),
      "XF_LEGACY_DETECT",
    ],
  ])("%s has a fixed code, offset and expectation", (err, code) => {
    expect(err).toBeInstanceOf(XenfleetError);
    expect(err.code).toBe(code);
    expect(err.unrecoverable).toBe(true);
    expect(err.message).toContain(`offset ${err.offset}`);
    expect(err.message).toContain(err.expected);
  });
});

describe("width and guest detection", () => {
  const shapes = [
    { width: 32, guest: "pv", guestWidth: 4 },
    { width: 32, guest: "pv", guestWidth: 8 },
    { width: 64, guest: "pv", guestWidth: 4 },
    { width: 64, guest: "pv", guestWidth: 8 },
    { width: 32, guest: "hvm" },
    { width: 64, guest: "hvm" },
  ] as const;

  it.each(shapes)("detects a %o stream from its first bytes, with and without xl wrapping", (shape) => {
    const bare = writeLegacyStream({ ...shape, seed: 2 });
    expect(detectLegacy(bare.subarray(0, 64))).toEqual({
      legacy: true,
      xlWrapped: false,
      width: shape.width,
      guest: shape.guest,
    });
    const wrapped = writeLegacyStream({ ...shape, seed: 2, xl: { config: { name: "vm" } } });
    expect(detectLegacy(wrapped.subarray(0, 512))).toEqual({
      legacy: true,
      xlWrapped: true,
      width: shape.width,
      guest: shape.guest,
    });
  });

  it("detects live-migration style HVM streams that open with a page batch", () => {
    for (const width of [32, 64] as const) {
      const stream = writeLegacyStream({ width, guest: "hvm", tsc: false, seed: 4 });
      expect(Buffer.from(stream).readInt32LE(hvmBody(width))).toBeGreaterThan(0);
      expect(detectLegacy(stream.subarray(0, 64))).toMatchObject({ legacy: true, width, guest: "hvm" });
    }
  });

  it("says v2 streams are not legacy", () => {
    const v2 = Buffer.concat([Buffer.alloc(8, 0xff), Buffer.from("XENF"), Buffer.alloc(12)]);
    expect(detectLegacy(v2)).toEqual({ legacy: false, xlWrapped: false });
    const libxl = Buffer.concat([Buffer.from("LibxlFmt"), Buffer.alloc(8)]);
    expect(detectLegacy(libxl)).toEqual({ legacy: false, xlWrapped: false });
  });

  it("explains an undecidable width and converts once it is given", async () => {
    // A 32-bit HVM stream with no page data reads, as 64-bit, like a batch of 5 pages.
    const stream = writeLegacyStream({
      width: 32,
      guest: "hvm",
      emptyBody: true,
      p2mSize: 64,
      magicPfns: [5n, 0n, 7n],
    });
    const detection = detectLegacy(stream);
    expect(detection).toMatchObject({ legacy: true, xlWrapped: false });
    expect(detection.width).toBeUndefined();
    expect(detection.undecided).toContain("--width");

    const err = await rejection(convertAll(stream));
    expect(err).toBeInstanceOf(LegacyDetectError);
    expect(err).toMatchObject({ reason: "undecidable", offset: 0 });
    expect((err as Error).message).toContain("bytes 4-7 are zero");
    expect((await convertAll(stream, { width: 32 })).length).toBeGreaterThan(0);
  });

  it("explains a stream too short to tell", async () => {
    const err = await rejection(convertAll(Buffer.from([1, 0, 0, 0])));
    expect(err).toBeInstanceOf(LegacyDetectError);
    expect((err as Error).message).toContain("only 4 bytes long");
  });

  it("refuses bytes that fit no legacy reading", async () => {
    const err = await rejection(convertAll(Buffer.alloc(64)));
    expect(err).toBeInstanceOf(LegacyStreamError);
    expect(err).toMatchObject({ reason: "not-legacy" });
  });

  it("reports what it detected", async () => {
    const { openLegacyAsV2 } = await import("../../src/legacy/index.js");
    const stream = writeLegacyStream({ width: 32, guest: "pv", guestWidth: 4, seed: 2, xl: { config: {} } });
    const { info } = await openLegacyAsV2([stream]);
    expect(info).toEqual({
      width: 32,
      guest: "pv",
      xlWrapped: true,
      format: "libxl",
      widthDetected: true,
      guestDetected: true,
      p2mSize: 42,
    });
  });
});

describe("converted streams", () => {
  it.each([
    [{ width: 32, guest: "pv", guestWidth: 4 }, "libxc"],
    [{ width: 64, guest: "pv", guestWidth: 8, xsaveSize: 0x240 }, "libxl"],
    [
      {
        width: 32,
        guest: "hvm",
        toolstack: [{ physOffset: 0xf0000000n, startAddr: 0xf1000000n, size: 0x800000n, name: "vga.vram" }],
      },
      "libxl",
    ],
    [{ width: 64, guest: "hvm" }, "libxc"],
  ] as const)("%o read back with the v2 reader as %s", async (shape, format) => {
    const { readStream } = await import("../../src/index.js");
    const legacy = writeLegacyStream({
      ...shape,
      seed: 11,
      ...(format === "libxc" && shape.guest === "hvm" ? { qemu: null } : {}),
    });
    const v2 = await convertAll(legacy, { format, skipQemu: true });
    const names: string[] = [];
    for await (const e of readStream([v2], { format })) {
      if ("name" in e) names.push(String(e.name));
    }
    expect(names.at(-1)).toBe("END");
    expect(names).toContain("PAGE_DATA");
    if (shape.guest === "pv")
      expect(names).toEqual(
        expect.arrayContaining(["X86_PV_INFO", "X86_PV_P2M_FRAMES", "X86_PV_VCPU_BASIC", "SHARED_INFO"]),
      );
    else expect(names).toEqual(expect.arrayContaining(["HVM_PARAMS", "HVM_CONTEXT"]));
    if (format === "libxl" && shape.guest === "hvm")
      expect(names).toEqual(expect.arrayContaining(["EMULATOR_XENSTORE_DATA", "EMULATOR_CONTEXT"]));
  });
});

describe("the qemu record after a converted HVM libxc stream's END", () => {
  const read = (stream: Uint8Array, chunks: Uint8Array[] = [stream]) => {
    const decoder = new StreamDecoder({ format: "libxc" });
    const events = chunks.flatMap((c) => decoder.push(c));
    decoder.end();
    return events;
  };

  it("is read as the device model's record, wherever the input is split", async () => {
    const v2 = await convertAll(writeLegacyStream({ width: 64, guest: "hvm", seed: 12 }), { format: "libxc" });
    const events = read(v2);
    const last = events.at(-1)!;
    expect(last.kind).toBe("device-model");
    expect(events.at(-2)).toMatchObject({ kind: "libxc-record", name: "END" });
    expect(last.offset + last.raw.length).toBe(v2.length);
    expect(Buffer.from(last.raw.subarray(0, 21)).toString()).toBe("DeviceModelRecord0002");
    const { inspectStream } = await import("../../src/index.js");
    expect(await inspectStream([v2], { format: "libxc" })).toMatchObject({
      bytes: v2.length,
      deviceModelBytes: last.raw.length - 25,
    });
    const end = last.offset;
    for (let cut = end - 9; cut <= end + 30; cut++) {
      const split = read(v2, [v2.subarray(0, cut), v2.subarray(cut)]);
      expect(split.at(-1)).toMatchObject({ kind: "device-model", offset: end });
    }
  });

  it("refuses anything else there, a record cut short, and such a record after a PV stream", async () => {
    const v2 = await convertAll(writeLegacyStream({ width: 64, guest: "hvm", seed: 13 }), { format: "libxc" });
    const junk = Buffer.concat([v2, Buffer.from("x")]);
    expect(() => read(junk)).toThrow(/trailing-data/);
    expect(() => read(v2.subarray(0, v2.length - 1))).toThrow(/truncated/);
    const withoutQemu = await convertAll(writeLegacyStream({ width: 64, guest: "hvm", seed: 13 }), {
      format: "libxc",
      skipQemu: true,
    });
    const other = Buffer.concat([withoutQemu, Buffer.from("DeviceModelRecord0003\0\0\0\0")]);
    expect(() => read(other)).toThrow(/trailing-data.*device model record/);
    const pv = await convertAll(writeLegacyStream({ width: 64, guest: "pv", seed: 14 }), { format: "libxc" });
    const dm = v2.subarray(read(v2).at(-1)!.offset);
    expect(() => read(Buffer.concat([pv, dm]))).toThrow(/trailing-data/);
  });
});

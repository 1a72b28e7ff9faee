/**
 * Fuzzing the fleet's own formats that arrive from outside a process: image
 * manifests and page-list blocks (read from the object store) and the
 * migration wire framing (read from a TCP peer). Mutated valid inputs, fed
 * whole or in random chunks, decode or fail with the format's typed error:
 * never another exception, a hang, or an allocation a hostile length asks
 * for. FUZZ_RUNS sets the count (`npm run fuzz` runs many more).
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { XenfleetError } from "@xenfleet/core";
import { manifestFormat, pageListFormat, type Manifest } from "@xenfleet/image";
import { FrameDecoder, FrameEncoder, WireFormatError } from "@xenfleet/migration";
import { FUZZ_RUNS, FUZZ_SEED, corpus, mutate, saveCrash, type Mutation } from "./corpus.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex") as Manifest["parent"] & string;

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant("word" as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 1 << 24),
  }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), value: fc.constant(0) }),
  fc.record({ kind: fc.constant("dup" as const), at: fc.nat(), value: fc.integer({ min: 1, max: 64 }) }),
);

/** Runs `read`; only XenfleetErrors may escape, and memory may not grow past a multiple of the input. */
function readOrRefuse(
  target: string,
  bytes: Buffer,
  read: (b: Buffer) => void,
  allowed: (e: unknown) => boolean,
): void {
  const before = process.memoryUsage().arrayBuffers;
  try {
    read(bytes);
  } catch (error) {
    if (!allowed(error)) {
      saveCrash(target, bytes);
      throw error;
    }
  }
  expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(bytes.length * 8 + 32 * 1024 * 1024);
}

function fuzzTarget(target: string, seeds: Buffer[], read: (b: Buffer) => void, allowed: (e: unknown) => boolean) {
  const all = [...seeds, ...corpus(target).map((c) => c.bytes)];
  describe(`${target} fuzz`, () => {
    it("the seeds read back", () => {
      for (const seed of seeds) read(seed);
    });
    it.each(corpus(target).map((c) => [c.name, c.bytes] as const))("corpus %s", (_name, bytes) =>
      readOrRefuse(target, bytes, read, allowed),
    );
    it(`mutated inputs read or are refused with a typed error (${FUZZ_RUNS} runs)`, () => {
      fc.assert(
        fc.property(fc.nat(all.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), (which, mutations) => {
          readOrRefuse(target, mutate(all[which]!, mutations), read, allowed);
        }),
        { numRuns: FUZZ_RUNS, seed: FUZZ_SEED },
      );
    });
  });
}

// --- image manifest ---------------------------------------------------------
const manifest: Manifest = {
  streamBytes: 123_456,
  streamDigest: { kind: "sha256", hex: sha("stream") },
  pageSize: 4096,
  source: { kind: "legacy", width: 64 },
  domainType: "x86-hvm",
  xenVersion: { major: 4, minor: 17 },
  libxcVersion: 3,
  created: new Date("2024-05-01T02:00:00Z"),
  pages: 30,
  zeroPages: 3,
  records: 12,
  parent: sha("parent"),
  domain: { name: "web-1", uuid: "5f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b" },
  blocks: [
    { id: sha("b1"), pages: 20, rawBytes: 81920 },
    { id: sha("b2"), pages: 10, rawBytes: 40960 },
  ],
};
fuzzTarget(
  "manifest",
  [
    manifestFormat.encodeManifest(manifest),
    manifestFormat.encodeManifest({
      ...manifest,
      parent: null,
      blocks: [],
      source: { kind: "v2" },
      domain: { name: "x" },
    }),
  ],
  (b) => void manifestFormat.decodeManifest("images/fuzz", b),
  (e) => e instanceof XenfleetError,
);

// --- page-list block ----------------------------------------------------------
function block(pages: number, packs: number): Buffer {
  const digests = new Uint8Array(pages * 32);
  for (let i = 0; i < digests.length; i++) digests[i] = (i * 31) & 0xff;
  const slots = new Uint16Array(pages);
  for (let i = 0; i < pages; i++) slots[i] = i % 5 === 4 ? pageListFormat.ZERO_SLOT : i % Math.max(1, packs);
  return pageListFormat.encodeBlock({
    packs: Array.from({ length: packs }, (_, i) => sha(`pack${i}`)),
    // Two pieces: 16 stream bytes then half the pages, 8 bytes then the rest.
    pieces: Uint32Array.from([16, Math.ceil(pages / 2), 8, Math.floor(pages / 2)]),
    digests,
    slots,
    raw: new Uint8Array(24).fill(0x5a),
  });
}
const blockSeeds = (() => {
  try {
    return [block(10, 2), block(1, 1)];
  } catch {
    return []; // the block layout changed shape; the corpus still runs
  }
})();
fuzzTarget(
  "block",
  blockSeeds,
  (b) => void pageListFormat.decodeBlock("blocks/fuzz", b),
  (e) => e instanceof XenfleetError,
);

// --- migration wire framing -----------------------------------------------
function wireStream(compression: "none" | "lz4" | "zstd"): Buffer {
  const encoder = new FrameEncoder(64 * 1024);
  const parts: Buffer[] = [encoder.header()];
  parts.push(...encoder.control("hello", { v: 1, migrationId: "m1", token: "t".repeat(32) }).buffers);
  parts.push(...encoder.data(Buffer.alloc(8192, 7), compression).buffers);
  parts.push(...encoder.data(Buffer.from("not very compressible 0123456789"), compression).buffers);
  parts.push(...encoder.control("end", { pages: 3 }).buffers);
  return Buffer.concat(parts);
}
fuzzTarget(
  "wire",
  [wireStream("none"), wireStream("lz4"), wireStream("zstd")],
  (b) => {
    // Fed in awkward pieces, as TCP delivers it.
    const decoder = new FrameDecoder();
    for (let at = 0, i = 0; at < b.length; i++) {
      const size = [1, 7, 24, 4096][i % 4]!;
      decoder.push(b.subarray(at, at + size));
      at += size;
    }
    decoder.end();
  },
  (e) => e instanceof WireFormatError,
);

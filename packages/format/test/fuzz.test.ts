/**
 * Property-based fuzzing of the reader: mutated valid streams, fed in random
 * chunkings, either decode or fail with a FormatError; never another
 * exception, a hang, or an allocation beyond the input's size. Runs from
 * FUZZ_RUNS (default 2000; `npm run fuzz` runs many more).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FormatError, StreamDecoder } from "../src/index.js";
import { corpus, saveCrash } from "./corpus.js";
import { sampleBytes } from "./helpers.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);

const seeds: Uint8Array[] = [
  ...(await Promise.all([
    sampleBytes({ layers: "xl", domainType: "x86-pv", libxcVersion: 3, pages: 3, batchSize: 2, vcpus: 1 }),
    sampleBytes({ layers: "libxl", domainType: "x86-hvm", libxcVersion: 2, pages: 2 }),
    sampleBytes({ layers: "libxc", domainType: "x86-hvm", libxcVersion: 3, pages: 2, byteOrder: "big" }),
  ])),
  ...corpus("stream").map((c) => c.bytes),
];

/** Decodes `bytes` fed in `sizes`-byte chunks; only a FormatError may come out, and nothing big may be allocated. */
function decodeOrRefuse(bytes: Uint8Array, sizes: readonly number[]): void {
  const decoder = new StreamDecoder({ maxConfigLength: 1024 * 1024 });
  const before = process.memoryUsage().arrayBuffers;
  try {
    let pos = 0;
    for (let i = 0; pos < bytes.length; i++) {
      const size = sizes[i % sizes.length]!;
      decoder.push(bytes.subarray(pos, pos + size));
      pos += size;
    }
    decoder.end();
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    expect(error.offset).toBeLessThanOrEqual(bytes.length);
  }
  // Nothing the decoder gathers can outgrow the bytes it was given (plus slack for the runtime).
  expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(bytes.length * 4 + 8 * 1024 * 1024);
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("word" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xfffffff8, 0xffffffff, 0x13, 4096) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), value: fc.constant(0) }),
  fc.record({ kind: fc.constant("dup" as const), at: fc.nat(), value: fc.integer({ min: 1, max: 64 }) }),
);

function mutate(base: Uint8Array, mutations: { kind: string; at: number; value: number }[]): Uint8Array {
  let bytes = Buffer.from(base);
  for (const m of mutations) {
    const at = m.at % Math.max(1, bytes.length);
    if (m.kind === "byte") bytes[at] = m.value;
    else if (m.kind === "word" && at + 4 <= bytes.length) bytes.writeUInt32LE(m.value >>> 0, at - (at % 4));
    else if (m.kind === "cut") bytes = bytes.subarray(0, at);
    else if (m.kind === "dup") bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + m.value), bytes.subarray(at)]);
  }
  return bytes;
}

describe("reader fuzz", () => {
  it.each(corpus("stream").map((c) => [c.name, c.bytes] as const))("corpus %s decodes or is refused with a FormatError", (_name, bytes) => {
    for (const sizes of [[bytes.length || 1], [1], [7, 4096]]) decodeOrRefuse(bytes, sizes);
  });

  it(`decodes or refuses with a FormatError (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 8 }),
        (which, mutations, sizes) => {
          const bytes = mutate(seeds[which]!, mutations);
          try {
            decodeOrRefuse(bytes, sizes);
          } catch (error) {
            saveCrash("stream", bytes);
            throw error;
          }
        },
      ),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20240601) },
    );
  });
});

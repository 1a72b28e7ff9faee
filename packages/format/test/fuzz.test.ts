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
import { mutate, mutation as mutationOf } from "./mutation.js";

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

const mutation = mutationOf([0, 1, 0x7fffffff, 0x80000000, 0xfffffff8, 0xffffffff, 0x13, 4096]);

describe("reader fuzz", () => {
  it.each(corpus("stream").map((c) => [c.name, c.bytes] as const))(
    "corpus %s decodes or is refused with a FormatError",
    (_name, bytes) => {
      for (const sizes of [[bytes.length || 1], [1], [7, 4096]]) decodeOrRefuse(bytes, sizes);
    },
  );

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

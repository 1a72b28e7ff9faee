/**
 * Property-based fuzzing of the legacy (pre-v2) reader and converter:
 * mutated legacy streams of every width and guest type, fed in random
 * chunkings, convert or fail with a LegacyError; never another exception, a
 * hang, or an allocation beyond the input's size. FUZZ_RUNS sets the count
 * (`npm run fuzz` runs many more).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LegacyError, openLegacyAsV2, writeLegacyStream } from "../src/legacy/index.js";
import { corpus, saveCrash } from "./corpus.js";
import { mutate, mutation as mutationOf } from "./mutation.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);

const seeds: Uint8Array[] = [
  writeLegacyStream({ width: 64, guest: "hvm", pages: 2, hvmContextSize: 40, qemu: new Uint8Array(16), seed: 3 }),
  writeLegacyStream({
    width: 32,
    guest: "hvm",
    pages: 1,
    toolstack: [{ physOffset: 1n, startAddr: 2n, size: 3n, name: "x" }],
    seed: 4,
  }),
  writeLegacyStream({ width: 64, guest: "pv", pages: 2, xsaveSize: 0, seed: 5 }),
  writeLegacyStream({ width: 32, guest: "pv", guestWidth: 4, pages: 2, seed: 6 }),
  ...corpus("legacy").map((c) => c.bytes),
];

async function convertOrRefuse(bytes: Uint8Array, sizes: readonly number[]): Promise<void> {
  const pieces: Uint8Array[] = [];
  for (let pos = 0, i = 0; pos < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    pieces.push(bytes.subarray(pos, pos + size));
    pos += size;
  }
  const before = process.memoryUsage().arrayBuffers;
  let out = 0;
  try {
    const { chunks } = await openLegacyAsV2(pieces, { format: "libxl" });
    for await (const chunk of chunks) out += chunk.length;
  } catch (error) {
    if (!(error instanceof LegacyError)) throw error;
  }
  // The converted stream is about the size of the input; nothing sized by a hostile field.
  expect(out).toBeLessThan(bytes.length * 4 + 64 * 1024);
  expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(bytes.length * 8 + 16 * 1024 * 1024);
}

const mutation = mutationOf([0, 1, -1, -2, -9, 1024, 1025, 0x7fffffff, 0x80000000, 0xffffffff]);

describe("legacy reader fuzz", () => {
  it.each(corpus("legacy").map((c) => [c.name, c.bytes] as const))(
    "corpus %s converts or is refused with a LegacyError",
    async (_name, bytes) => {
      for (const sizes of [[bytes.length || 1], [1], [5, 4096]]) await convertOrRefuse(bytes, sizes);
    },
  );

  it(`converts or refuses with a LegacyError (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 6 }),
        async (which, mutations, sizes) => {
          const bytes = mutate(seeds[which]!, mutations);
          try {
            await convertOrRefuse(bytes, sizes);
          } catch (error) {
            saveCrash("legacy", bytes);
            throw error;
          }
        },
      ),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20240602) },
    );
  });
});

/**
 * Property-based fuzzing of the pack parser: mutated packs (every
 * compression), opened by range reads through a store and from bytes, either
 * yield exactly the entries that were written or fail with a typed store
 * error; never another exception, a hang, or an allocation a hostile count
 * or length asks for. FUZZ_RUNS sets the count (`npm run fuzz` runs many more).
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { XenfleetError } from "@xenfleet/core";
import {
  MemoryStore,
  PackReader,
  PackWriter,
  packFormat,
  parseContentId,
  sha256Id,
  type Compression,
} from "@xenfleet/store";
import { corpus, saveCrash } from "./corpus.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function pack(compression: Compression, count: number, seed: number) {
  const writer = new PackWriter({ entryHash: "sha256", compression, frameEntries: 3 });
  const entries = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    // Compressible but distinct pages.
    const data = Buffer.alloc(512 + ((i * 97) % 300), (seed + i) & 0xff);
    data.writeUInt32LE(seed * 1000 + i, 0);
    const id = sha256(data);
    writer.add(parseContentId("sha256", id), data);
    entries.set(id, data);
  }
  return { bytes: writer.finish().bytes, entries };
}

const seeds = [pack("none", 7, 1), pack("zstd", 8, 2), pack("lz4", 5, 3), pack("none", 0, 4)];
const corpusSeeds = corpus("pack").map((c) => ({ bytes: c.bytes, entries: new Map<string, Buffer>() }));

/** Opens `bytes` both ways and reads everything; checks only right entries or typed errors come out. */
async function readOrRefuse(bytes: Buffer, written: Map<string, Buffer>): Promise<void> {
  const store = new MemoryStore();
  const id = parseContentId("sha256", sha256(bytes));
  await store.put(`packs/${id.slice(0, 2)}/${id}`, bytes);
  const before = process.memoryUsage().arrayBuffers;
  for (const open of [() => PackReader.open(store, id), async () => PackReader.fromBytes(id, bytes)]) {
    try {
      const reader = await open();
      for await (const entry of reader.readAll()) {
        // Whatever comes out is what was written under that id: entries are checked against their ids.
        expect(sha256(entry.data)).toBe(entry.id);
        if (written.size > 0) expect(written.get(entry.id)?.equals(entry.data)).toBe(true);
      }
      for (const entryId of [...written.keys()].slice(0, 3)) {
        const got = await reader.read(entryId).catch((e: unknown) => e);
        if (Buffer.isBuffer(got)) expect(got.equals(written.get(entryId)!)).toBe(true);
        else expect(got).toBeInstanceOf(XenfleetError);
      }
    } catch (error) {
      if (!(error instanceof XenfleetError)) throw error;
      // Errors name the pack.
      expect(error.message).toContain(id);
    }
  }
  expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(bytes.length * 8 + 8 * 1024 * 1024);
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant("word" as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 16, 0x100000, 0x7fffffff, 0xffffffff),
  }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), value: fc.constant(0) }),
  fc.record({ kind: fc.constant("tail" as const), at: fc.nat(200), value: fc.constant(0) }),
);

function mutate(base: Buffer, mutations: { kind: string; at: number; value: number }[]): Buffer {
  let bytes = Buffer.from(base);
  for (const m of mutations) {
    // Half the mutations land in the last 200 bytes: the trailer and index, where the counts are.
    const at = m.kind === "tail" ? Math.max(0, bytes.length - 1 - m.at) : m.at % Math.max(1, bytes.length);
    if (m.kind === "byte" || m.kind === "tail") {
      if (at < bytes.length) bytes[at] = bytes[at]! ^ (m.value || 0x41);
    } else if (m.kind === "word" && at + 4 <= bytes.length) bytes.writeUInt32LE(m.value >>> 0, at);
    else if (m.kind === "cut") bytes = bytes.subarray(0, at);
  }
  return bytes;
}

const { TRAILER } = packFormat;

/**
 * Rewrites the index and pack checksums to match mutated bytes (where the
 * trailer still locates an index), so mutations get past the checksums into
 * the field checks behind them, as a deliberately forged pack would.
 */
function reseal(bytes: Buffer): Buffer {
  if (bytes.length < TRAILER.size) return bytes;
  const trailerAt = bytes.length - TRAILER.size;
  const indexOffset = Number(bytes.readBigUInt64LE(trailerAt + TRAILER.indexOffset));
  if (indexOffset <= trailerAt) {
    createHash("sha256")
      .update(bytes.subarray(indexOffset, trailerAt))
      .digest()
      .copy(bytes, trailerAt + TRAILER.indexChecksum);
  }
  const checksumAt = trailerAt + TRAILER.packChecksum;
  createHash("sha256").update(bytes.subarray(0, checksumAt)).digest().copy(bytes, checksumAt);
  return bytes;
}

describe("pack parser fuzz", () => {
  it("unmutated seeds read back exactly", async () => {
    for (const seed of seeds) await readOrRefuse(seed.bytes, seed.entries);
    expect(sha256Id(seeds[0]!.bytes)).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each(corpus("pack").map((c) => [c.name, c.bytes] as const))(
    "corpus %s reads or is refused with a typed error",
    async (_name, bytes) => {
      await readOrRefuse(bytes, new Map());
    },
  );

  it(`reads right or refuses with a typed error (${RUNS} runs)`, async () => {
    const all = [...seeds, ...corpusSeeds];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: all.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async (which, mutations, forge) => {
          const seed = all[which]!;
          const mutated = mutate(seed.bytes, mutations);
          const bytes = forge ? reseal(mutated) : mutated;
          try {
            await readOrRefuse(bytes, seed.entries);
          } catch (error) {
            saveCrash("pack", bytes);
            throw error;
          }
        },
      ),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20240603) },
    );
  });
});

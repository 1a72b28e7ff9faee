import { createHash } from "node:crypto";
import type { ObjectStore } from "@xenfleet/store";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkStore,
  importImage,
  inSubset,
  keys,
  loadBlock,
  loadManifest,
  parseCheckSubset,
  type CheckSubset,
  type Sha256Id,
} from "../src/index.js";
import { BACKENDS, cleanupAll, mutatePages, sampleStream } from "./helpers.js";

afterAll(cleanupAll);

async function damage(store: ObjectStore, key: string, edit: (bytes: Buffer) => Buffer): Promise<void> {
  const bytes = await store.get(key);
  await store.delete(key);
  await store.put(key, edit(Buffer.from(bytes)));
}

async function objectsOf(store: ObjectStore, id: Sha256Id): Promise<{ blocks: Sha256Id[]; packs: Sha256Id[] }> {
  const manifest = await loadManifest(store, id);
  const packs = new Set<Sha256Id>();
  for (const b of manifest.blocks) for (const p of (await loadBlock(store, id, b.id)).packs) packs.add(p);
  return { blocks: manifest.blocks.map((b) => b.id), packs: [...packs] };
}

/**
 * Three images of two domains: "a" twice (the second a child sharing most
 * pages with the first), "b" once, so one pack breaks two images.
 */
async function threeImages(store: ObjectStore) {
  const base = await sampleStream({ domainType: "x86-hvm", pages: 600, seed: 3 });
  const a1 = (await importImage(store, [base], { domain: "a" })).imageId;
  const a2 = (await importImage(store, [(await mutatePages(base, 0.05, 9)).stream], { domain: "a" })).imageId;
  const b = (
    await importImage(store, [await sampleStream({ domainType: "x86-pv", pages: 600, seed: 4 })], { domain: "b" })
  ).imageId;
  return { a1, a2, b };
}

/** The slice n/of that holds the pack, and one that does not. */
function slicesFor(pack: Sha256Id, of: number): { covering: CheckSubset; missing: CheckSubset } {
  const n = (Number.parseInt(pack.slice(0, 8), 16) % of) + 1;
  return { covering: { n, of }, missing: { n: (n % of) + 1, of } };
}

describe.each(BACKENDS)("check on %s", (_name, open) => {
  it("passes a sound store, and with --read-data reads every pack", async () => {
    const store = await open();
    const { a1, a2, b } = await threeImages(store);
    const r = await checkStore(store, { readData: true });
    expect(r.problems).toEqual([]);
    expect(r.brokenImages).toEqual([]);
    expect(r.images).toBe(3);
    const packs = new Set<Sha256Id>();
    for (const id of [a1, a2, b]) for (const p of (await objectsOf(store, id)).packs) packs.add(p);
    expect(r.checked.packs).toBe(packs.size);
    expect(r.dataRead.packs).toBe(packs.size);
    expect(r.dataRead.bytes).toBeGreaterThan(1000 * 4096);
    await store.close();
  });

  it("finds a flipped page byte only by reading data, and names every image the pack breaks", async () => {
    const store = await open();
    const { a1, a2, b } = await threeImages(store);
    const pack = (await objectsOf(store, a1)).packs[0]!;
    await damage(store, keys.packKey(pack), (bytes) => {
      bytes[16 + 4096 + 100] = bytes[16 + 4096 + 100]! ^ 0x40;
      return bytes;
    });
    expect((await checkStore(store)).problems).toEqual([]);
    const r = await checkStore(store, { readData: true });
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ kind: "pack", key: keys.packKey(pack) });
    const sharing = [a1, a2].filter((id) => r.problems[0]!.images.includes(id));
    expect(sharing).toEqual([a1, a2]); // the child shares the parent's pages
    expect(r.brokenImages.map((i) => i.id)).not.toContain(b);
    expect(r.brokenImages.find((i) => i.id === a1)?.domains).toEqual(["a"]);

    const { covering, missing } = slicesFor(pack, 7);
    expect(inSubset(pack, covering)).toBe(true);
    const inSlice = await checkStore(store, { readData: true, subset: covering });
    expect(inSlice.problems.map((p) => p.key)).toEqual([keys.packKey(pack)]);
    expect(inSlice.dataRead.packs).toBeLessThan(r.dataRead.packs);
    const outOfSlice = await checkStore(store, { readData: true, subset: missing });
    expect(outOfSlice.problems).toEqual([]);
    expect(r.domainsWithoutGoodImage).toEqual(["a"]);
    // Nothing moved unless asked; then the pack goes aside and the next save of "a" heals it.
    expect(await store.head(keys.packKey(pack))).toBeDefined();
    const moved = await checkStore(store, { readData: true, moveAside: true });
    expect(moved.problems[0]!.reason).toMatch(/\(moved aside\)$/);
    expect(await store.head(keys.packKey(pack))).toBeUndefined();
    expect((await checkStore(store)).problems[0]!.reason).toMatch(/^damaged \(moved aside/);
    const base = await sampleStream({ domainType: "x86-hvm", pages: 600, seed: 3 });
    await importImage(store, [(await mutatePages(base, 0.05, 9)).stream], {
      domain: "a",
      created: new Date(Date.now() + 1000),
    });
    const healed = await checkStore(store, { readData: true });
    expect(healed.domainsWithoutGoodImage).toEqual([]);
    expect(healed.brokenImages.map((i) => i.id).sort()).toEqual([a1, a2].sort());
    await store.close();
  });

  it("finds a truncated pack, a deleted pack, a deleted block and a damaged manifest without reading data", async () => {
    const store = await open();
    const { a1, a2, b } = await threeImages(store);
    const aObjects = await objectsOf(store, a1);
    const bObjects = await objectsOf(store, b);
    const truncated = aObjects.packs[0]!;
    await damage(store, keys.packKey(truncated), (bytes) => bytes.subarray(0, bytes.length - 100));
    const deletedPack = bObjects.packs[0]!;
    await store.delete(keys.packKey(deletedPack));
    const deletedBlock = bObjects.blocks[bObjects.blocks.length - 1]!;
    await store.delete(keys.blockKey(deletedBlock));
    await damage(store, keys.manifestKey(a2), (bytes) => {
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
      return bytes;
    });

    const r = await checkStore(store);
    const byKey = new Map(r.problems.map((p) => [p.key, p]));
    expect(byKey.get(keys.packKey(truncated))).toMatchObject({ kind: "pack", images: [a1] });
    expect(byKey.get(keys.packKey(deletedPack))).toMatchObject({ kind: "pack", reason: "missing", images: [b] });
    expect(byKey.get(keys.blockKey(deletedBlock))).toMatchObject({ kind: "block", reason: "missing", images: [b] });
    expect(byKey.get(keys.manifestKey(a2))?.kind).toBe("manifest");
    expect(byKey.get(keys.manifestKey(a2))?.reason).toMatch(/hashes to/);
    expect(r.brokenImages.map((i) => i.id).sort()).toEqual([a1, a2, b].sort());
    await store.close();
  });
});

describe("--read-data-subset values", () => {
  it("takes n/m and percentages, and refuses the rest", () => {
    expect(parseCheckSubset("1/7")).toEqual({ n: 1, of: 7 });
    expect(parseCheckSubset("10%")).toEqual({ percent: 10 });
    for (const bad of ["0/7", "8/7", "x", "0%", "101%", "1/0"]) expect(() => parseCheckSubset(bad)).toThrow(/subset/);
  });

  it("slices n/m cover every pack exactly once", () => {
    const packs = Array.from(
      { length: 200 },
      (_, i) => createHash("sha256").update(String(i)).digest("hex") as Sha256Id,
    );
    for (const pack of packs) {
      const hits = [1, 2, 3, 4, 5, 6, 7].filter((n) => inSubset(pack, { n, of: 7 }));
      expect(hits).toHaveLength(1);
    }
    const tenth = packs.filter((p) => inSubset(p, { percent: 10 })).length;
    expect(tenth).toBeGreaterThan(5);
    expect(tenth).toBeLessThan(40);
    expect(packs.filter((p) => inSubset(p, { percent: 100 }))).toHaveLength(200);
  });
});

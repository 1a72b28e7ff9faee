import type { ObjectStore } from "@xenfleet/store";
import { afterAll, describe, expect, it } from "vitest";
import {
  damageOf,
  damagedPacks,
  gc,
  importImage,
  keys,
  listVerifications,
  loadBlock,
  loadManifest,
  readVerification,
  removeImage,
  verifyAndRecord,
  verifyImage,
  type Sha256Id,
} from "../src/index.js";
import { BACKENDS, cleanupAll, mutatePages, sampleStream } from "./helpers.js";

afterAll(cleanupAll);

async function packsOf(store: ObjectStore, id: Sha256Id): Promise<Sha256Id[]> {
  const packs = new Set<Sha256Id>();
  for (const b of (await loadManifest(store, id)).blocks)
    for (const p of (await loadBlock(store, id, b.id)).packs) packs.add(p);
  return [...packs];
}

describe.each(BACKENDS)("verification and healing on %s", (_name, open) => {
  it("moves a corrupt pack aside, marks the images that need it, and the next save stores its pages anew", async () => {
    const store = await open();
    const base = await sampleStream({ domainType: "x86-hvm", pages: 1200, seed: 21 });
    const first = (await importImage(store, [base], { domain: "d" })).imageId;
    const childStream = (await mutatePages(base, 0.02, 5)).stream;
    const child = await importImage(store, [childStream], { domain: "d" });
    expect(child.bytesNew).toBeLessThan(base.length / 5);

    const pack = (await packsOf(store, first))[0]!;
    const key = keys.packKey(pack);
    const bytes = Buffer.from(await store.get(key));
    bytes[16 + 4096 * 3 + 7]! ^= 0x10;
    await store.delete(key);
    await store.put(key, bytes);

    const verdict = await verifyAndRecord(store, first);
    expect(verdict).toMatchObject({ ok: false, problem: { key } });
    expect(verdict.problem!.reason).toMatch(/moved aside/);
    expect(await store.head(key)).toBeUndefined();
    expect((await store.get(`quarantine/${key}`)).equals(bytes)).toBe(true);
    expect(await damageOf(store, key)).toMatchObject({ key, movedTo: `quarantine/${key}` });
    expect([...(await damagedPacks(store))]).toEqual([pack]);
    expect(await readVerification(store, first)).toEqual(verdict);

    // The child shares the pack's pages: broken for the same reason.
    const childVerdict = await verifyAndRecord(store, child.imageId);
    expect(childVerdict.ok).toBe(false);
    expect(childVerdict.problem).toMatchObject({ key });
    expect(childVerdict.problem!.reason).toMatch(/^damaged: /);

    // The next save of the domain (its parent is the broken child) stores the lost pages again.
    const healed = await importImage(store, [childStream], { domain: "d", created: new Date(Date.now() + 1000) });
    expect(healed.imageId).not.toBe(child.imageId);
    expect(healed.bytesNew).toBeGreaterThan(100 * 4096);
    expect((await verifyAndRecord(store, healed.imageId)).ok).toBe(true);
    await verifyImage(store, healed.imageId);
    expect((await packsOf(store, healed.imageId)).includes(pack)).toBe(false);

    // The old images stay marked broken.
    const all = await listVerifications(store);
    expect(all.get(first)?.ok).toBe(false);
    expect(all.get(child.imageId)?.ok).toBe(false);
    expect(all.get(healed.imageId)?.ok).toBe(true);

    // Once no ref holds an image, GC drops its verification record with it.
    await removeImage(store, first);
    const swept = await gc(store, { graceMs: 0 });
    expect(swept.deleted.verifications).toBe(1);
    expect(await readVerification(store, first)).toBeUndefined();
    expect((await readVerification(store, healed.imageId))?.ok).toBe(true);
    await store.close();
  });

  it("records a passing verification and leaves a sound store as it was", async () => {
    const store = await open();
    const id = (
      await importImage(store, [await sampleStream({ domainType: "x86-pv", pages: 300, seed: 2 })], { domain: "p" })
    ).imageId;
    const v = await verifyAndRecord(store, id);
    expect(v).toMatchObject({ ok: true });
    expect(v.bytes).toBeGreaterThan(300 * 4096);
    expect(await damagedPacks(store)).toEqual(new Set());
    await store.close();
  });

  it("with a subset, reads only the packs of that slice: a corrupt pack outside it goes unnoticed, inside it is found", async () => {
    const store = await open();
    const id = (
      await importImage(store, [await sampleStream({ domainType: "x86-hvm", pages: 1200, seed: 31 })], { domain: "s" })
    ).imageId;
    const pack = (await packsOf(store, id))[0]!;
    const bytes = Buffer.from(await store.get(keys.packKey(pack)));
    bytes[16 + 4096 + 9]! ^= 0x01;
    await store.delete(keys.packKey(pack));
    await store.put(keys.packKey(pack), bytes);
    // The pack's slice of seven (by its id, as check's) and another one.
    const slice = (Number.parseInt(pack.slice(0, 8), 16) % 7) + 1;
    const other = (slice % 7) + 1;
    const missed = await verifyAndRecord(store, id, { subset: { n: other, of: 7 } });
    expect(missed).toMatchObject({ ok: true, subset: `${other}/7`, bytes: 0 });
    const found = await verifyAndRecord(store, id, { subset: { n: slice, of: 7 } });
    expect(found).toMatchObject({ ok: false, subset: `${slice}/7`, problem: { key: keys.packKey(pack) } });
    expect(await readVerification(store, id)).toEqual(found);
    expect(await damageOf(store, keys.packKey(pack))).toBeDefined();
    await store.close();
  });
});

import { afterAll, describe, expect, it } from "vitest";
import {
  compressImage,
  copyImages,
  gc,
  importImage,
  keys,
  listImageRefs,
  protectedImages,
  protectImage,
} from "../src/index.js";
import { cleanupAll, encryptedLocalStore, exportToBuffer, localStore, mutatePages, sampleStream } from "./helpers.js";

afterAll(cleanupAll);

describe("copyImages", () => {
  it("copies images with their refs into an encrypted store, following forwards of compressed packs; a second run copies nothing", async () => {
    const source = await localStore();
    const target = await encryptedLocalStore();
    const night0 = await sampleStream({ domainType: "x86-hvm", pages: 2000, seed: 61 });
    const night1 = (await mutatePages(night0, 0.05, 7)).stream;
    const a = await importImage(source, [night0], { domain: "web", labels: ["nightly"] });
    const b = await importImage(source, [night1], { domain: "web" });
    await protectImage(source, a.imageId, "keep");
    // Compression rewrites a's packs and leaves forwards; gc with no grace deletes the old packs.
    await compressImage(source, a.imageId, "zstd");
    await gc(source, { graceMs: 0 });
    const forwards = [];
    for await (const e of source.list(keys.FORWARDS)) forwards.push(e.key);
    expect(forwards.length).toBeGreaterThan(0);
    // The packs those forwards leave from are gone: blocks name them, reads follow the forwards.
    for (const key of forwards) expect(await source.head(key.replace(keys.FORWARDS, keys.PACKS))).toBeUndefined();

    const first = await copyImages(source, target, [a.imageId, b.imageId]);
    expect(first.images).toBe(2);
    expect(first.copied).toBeGreaterThan(forwards.length);
    expect((await exportToBuffer(target, a.imageId)).equals(night0)).toBe(true);
    expect((await exportToBuffer(target, b.imageId)).equals(night1)).toBe(true);
    expect((await listImageRefs(target)).map((r) => r.id).sort()).toEqual([a.imageId, b.imageId].sort());
    expect(await protectedImages(target)).toEqual(new Set([a.imageId]));
    for (const key of forwards) expect(await target.head(key)).toBeDefined();

    const second = await copyImages(source, target, [a.imageId, b.imageId]);
    expect(second).toMatchObject({ images: 2, copied: 0, bytes: 0 });
    expect(second.skipped).toBe(first.copied);

    // The copy's hooks let an import into the target dedup against what was copied.
    const night2 = (await mutatePages(night1, 0.05, 8)).stream;
    const c = await importImage(target, [night2], { domain: "other", parent: null });
    expect(c.dedupPages).toBeGreaterThan(c.pages / 2);
  });
});

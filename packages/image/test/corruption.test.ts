import { putContent, type ObjectStore } from "@xenfleet/store";
import { afterAll, describe, expect, it } from "vitest";
import {
  ImageCorruptError,
  ImageNotFoundError,
  ImageObjectMissingError,
  addImageRef,
  importImage,
  keys,
  loadBlock,
  loadManifest,
  manifestFormat,
  pageListFormat,
  verifyImage,
  type Sha256Id,
} from "../src/index.js";
import { BACKENDS, cleanupAll, exportToBuffer, localStore, mutatePages, sampleStream } from "./helpers.js";

afterAll(cleanupAll);

/** Replaces an object's bytes (objects are write-once, so: delete, then put the damaged copy). */
async function damage(store: ObjectStore, key: string, edit: (bytes: Buffer) => Buffer): Promise<void> {
  const bytes = await store.get(key);
  await store.delete(key);
  await store.put(key, edit(Buffer.from(bytes)));
}

async function imageWithPacks(
  store: ObjectStore,
  pages: number,
  seed: number,
): Promise<{ id: Sha256Id; packs: Sha256Id[]; blocks: Sha256Id[] }> {
  const { imageId } = await importImage(store, [await sampleStream({ domainType: "x86-hvm", pages, seed })], {
    domain: `d${seed}`,
  });
  const manifest = await loadManifest(store, imageId);
  const packs = new Set<Sha256Id>();
  for (const b of manifest.blocks) for (const p of (await loadBlock(store, imageId, b.id)).packs) packs.add(p);
  return { id: imageId, packs: [...packs], blocks: manifest.blocks.map((b) => b.id) };
}

describe.each(BACKENDS)("damaged images on %s", (_name, open) => {
  it.each([
    ["a pack fetched whole", 2000],
    ["a pack read entry by entry", 20],
  ])("a flipped byte in %s fails export and verify naming the pack and the image", async (_what, pages) => {
    const store = await open();
    const { id, packs } = await imageWithPacks(store, pages, pages);
    const key = keys.packKey(packs[0]!);
    await damage(store, key, (b) => {
      b[16 + 4096 + 100] = b[16 + 4096 + 100]! ^ 0x40; // inside the second page's data
      return b;
    });
    for (const attempt of [() => verifyImage(store, id), () => exportToBuffer(store, id)]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageCorruptError);
      expect(err).toMatchObject({ imageId: id, key, code: "XF_IMAGE_CORRUPT" });
      expect(String((err as Error).message)).toContain(id);
    }
    await store.close();
  });

  it("a missing pack is ImageObjectMissingError naming the pack and the image", async () => {
    const store = await open();
    const { id, packs } = await imageWithPacks(store, 300, 7);
    await store.delete(keys.packKey(packs[0]!));
    await expect(verifyImage(store, id)).rejects.toMatchObject({
      name: "ImageObjectMissingError",
      imageId: id,
      key: keys.packKey(packs[0]!),
    });
    await expect(verifyImage(store, id)).rejects.toBeInstanceOf(ImageObjectMissingError);
    await store.close();
  });

  it("a damaged page list block is ImageCorruptError naming the block", async () => {
    const store = await open();
    const { id, blocks } = await imageWithPacks(store, 300, 8);
    const key = keys.blockKey(blocks[0]!);
    await damage(store, key, (b) => {
      b[40] = b[40]! ^ 1;
      return b;
    });
    await expect(verifyImage(store, id)).rejects.toMatchObject({ name: "ImageCorruptError", imageId: id, key });
    await store.close();
  });

  it("an unknown image id is ImageNotFoundError", async () => {
    const store = await open();
    const id = "ab".repeat(32) as Sha256Id;
    await expect(verifyImage(store, id)).rejects.toBeInstanceOf(ImageNotFoundError);
    await store.close();
  });
});

describe("an unreadable parent", () => {
  it.each([
    ["missing", (store: ObjectStore, key: string) => store.delete(key)],
    ["corrupt", (store: ObjectStore, key: string) => damage(store, key, (b) => b.subarray(0, b.length - 9))],
  ])("whose manifest is %s is skipped: the next save is a full one, flagged", async (_what, spoil) => {
    const store = await localStore();
    const night0 = await sampleStream({ domainType: "x86-pv", pages: 400, seed: 41 });
    const { stream: night1 } = await mutatePages(night0, 0.05, 7);
    const first = await importImage(store, [night0], { domain: "vm" });
    await spoil(store, keys.manifestKey(first.imageId));
    await expectSkipped(store, first.imageId, night1);
  });

  it("whose manifest is of a version this code does not read is skipped", async () => {
    const store = await localStore();
    const night0 = await sampleStream({ domainType: "x86-pv", pages: 400, seed: 43 });
    const { stream: night1 } = await mutatePages(night0, 0.05, 8);
    const first = await importImage(store, [night0], { domain: "vm" });
    // A later writer's manifest: intact (its key is its hash), version 99 in its header.
    const future = Buffer.from(await store.get(keys.manifestKey(first.imageId)));
    future.writeUInt16LE(99, 8);
    const { id } = await putContent(store, "manifests", future);
    await addImageRef(store, "vm", id, new Date(Date.now() + 1000));
    const skipped = await expectSkipped(store, id, night1);
    expect(skipped.reason).toMatch(/manifest version 99/);
  });

  async function expectSkipped(store: ObjectStore, latest: Sha256Id, night1: Buffer) {
    const next = await importImage(store, [night1], { domain: "vm", created: new Date(Date.now() + 2000) });
    expect(next.parent).toBeNull();
    expect(next.parentSkipped).toMatchObject({ id: latest, reason: expect.any(String) });
    expect((await loadManifest(store, next.imageId)).parentSkipped).toEqual(next.parentSkipped);
    expect(await exportToBuffer(store, next.imageId)).toEqual(night1);
    // Named explicitly, the same parent is an error: the caller asked for it.
    await expect(importImage(store, [night1], { domain: "vm", parent: latest })).rejects.toThrow();
    // The image after that has a readable parent again.
    const after = await importImage(store, [night1], { domain: "vm", created: new Date(Date.now() + 3000) });
    expect(after.parent).toBe(next.imageId);
    return next.parentSkipped!;
  }

  it("parent null means none, even when the domain has images", async () => {
    const store = await localStore();
    const stream = await sampleStream({ domainType: "x86-pv", pages: 200, seed: 42 });
    await importImage(store, [stream], { domain: "vm" });
    const none = await importImage(store, [stream], { domain: "vm", parent: null });
    expect(none.parent).toBeNull();
    expect((await loadManifest(store, none.imageId)).parent).toBeNull();
  });
});

describe("the stream digest", () => {
  /** A copy of the image whose first block was changed by `edit`, stored under its new id, in a manifest sealed anew. */
  async function withEditedBlock(
    store: ObjectStore,
    id: Sha256Id,
    edit: (block: pageListFormat.PageListBlock) => pageListFormat.PageListBlock,
  ): Promise<Sha256Id> {
    const manifest = await loadManifest(store, id);
    const block = edit(await loadBlock(store, id, manifest.blocks[0]!.id));
    const { id: blockId } = await putContent(store, "blocks", pageListFormat.encodeBlock(block, "zstd"));
    const blocks = [{ ...manifest.blocks[0]!, id: blockId as Sha256Id }, ...manifest.blocks.slice(1)];
    const { id: copy } = await putContent(store, "manifests", manifestFormat.encodeManifest({ ...manifest, blocks }));
    return copy as Sha256Id;
  }

  it.each([
    [
      "a changed non-page byte",
      (b: pageListFormat.PageListBlock) => {
        const raw = Buffer.from(b.raw);
        raw[raw.length - 1]! ^= 1;
        return { ...b, raw };
      },
    ],
    [
      "two pages in each other's place",
      (b: pageListFormat.PageListBlock) => {
        const digests = Buffer.from(b.digests);
        const slots = Uint16Array.from(b.slots);
        const [i, j] = [...b.slots.keys()].filter((k) => b.slots[k] !== pageListFormat.ZERO_SLOT);
        digests.copy(digests, i! * 32, j! * 32, j! * 32 + 32);
        Buffer.from(b.digests).copy(digests, j! * 32, i! * 32, i! * 32 + 32);
        [slots[i!], slots[j!]] = [b.slots[j!]!, b.slots[i!]!];
        return { ...b, digests, slots };
      },
    ],
  ])("an image whose blocks are consistent but say %s fails export on its digest", async (_what, edit) => {
    const store = await localStore();
    const { imageId } = await importImage(store, [await sampleStream({ domainType: "x86-hvm", pages: 300, seed: 4 })], {
      domain: "d",
    });
    expect((await loadManifest(store, imageId)).streamDigest.kind).toBe("image");
    const copy = await withEditedBlock(store, imageId, edit);
    const err = await exportToBuffer(store, copy).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageCorruptError);
    expect(String((err as Error).message)).toMatch(/image digest/);
    await store.close();
  });
});

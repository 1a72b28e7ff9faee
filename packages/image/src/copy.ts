/**
 * Copying images from one store into another: a second site, or a plain
 * store into an encrypted one (each store encrypts, or not, what it is
 * given: objects are copied by name, so an image keeps its id). Everything
 * an image needs is copied in commit order (packs and their forwards,
 * blocks, the blocks' hooks, the manifest, then its refs), so the target
 * never holds a ref to an image that is not whole. An object the target
 * has is skipped: a second run copies nothing, and images sharing packs
 * copy them once. The target is held with a shared lock, as an import
 * holds it, so its GC never sweeps what a copy has written but not yet
 * committed.
 */
import { getContent, Semaphore, type ObjectStore } from "@xenfleet/store";
import { readForward } from "./forwards.js";
import { hooksOf, minHook } from "./hooks.js";
import { blockKey, forwardKey, hookKey, manifestKey, packKey, type Sha256Id } from "./keys.js";
import { asImageError, loadManifest } from "./load.js";
import { acquireLock, type LockOptions } from "./locks.js";
import { decodeBlock, ZERO_SLOT } from "./page-list.js";
import { PROTECTED_REFS } from "./protection.js";
import { listImageRefs } from "./refs.js";
import { settleAll } from "./settle.js";

export interface CopyOptions {
  /** Objects copied at once (default 8). */
  readonly concurrency?: number;
  readonly lock?: LockOptions;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: { images: number; objects: number; bytes: number }) => void;
}

export interface CopyResult {
  readonly images: number;
  /** Objects and refs written to the target, and their bytes. */
  readonly copied: number;
  readonly bytes: number;
  /** Objects and refs the target already had. */
  readonly skipped: number;
}

/** Copies images `ids` (each held by a ref in `source`) and everything they need into `target`. */
export async function copyImages(
  source: ObjectStore,
  target: ObjectStore,
  ids: readonly Sha256Id[],
  options: CopyOptions = {},
): Promise<CopyResult> {
  const slots = new Semaphore(options.concurrency ?? 8);
  const done = new Set<string>();
  const counts = { images: 0, copied: 0, bytes: 0, skipped: 0 };
  const report = () => options.onProgress?.({ images: counts.images, objects: counts.copied, bytes: counts.bytes });

  /** Copies one object unless the target has it (or this copy did it already). */
  const copy = (key: string, read: () => Promise<Buffer>) =>
    slots.run(async () => {
      if (done.has(key)) return;
      done.add(key);
      options.signal?.throwIfAborted();
      if ((await target.head(key)) !== undefined) {
        counts.skipped++;
        return;
      }
      const bytes = await read();
      await target.put(key, bytes);
      counts.copied++;
      counts.bytes += bytes.length;
      report();
    });

  /** A pack, and where its forwards lead (a rewritten pack may be gone; its forward's target is not). */
  const copyPack = async (pack: Sha256Id): Promise<void> => {
    if ((await source.head(packKey(pack))) !== undefined) await copy(packKey(pack), () => source.get(packKey(pack)));
    const forward = await readForward(source, pack);
    if (forward === undefined) return;
    await copyPack(forward.to);
    await copy(forwardKey(pack), () => source.get(forwardKey(pack)));
  };

  const refs = await listImageRefs(source);
  const lock = await acquireLock(target, "shared", { ...options.lock, purpose: "copy" });
  try {
    for (const id of ids) {
      const manifest = await loadManifest(source, id);
      const raw = await settleAll(manifest.blocks.map((b) => readBlock(source, id, b.id)));
      const blocks = raw.map((r) => r.block);
      const packs = new Set(blocks.flatMap((b) => b.packs));
      await settleAll([...packs].map((p) => copyPack(p)));
      lock.assertHeld();
      await settleAll(manifest.blocks.map((b, i) => copy(blockKey(b.id), async () => raw[i]!.bytes)));
      // Hooks are advisory: each names a block that holds a page with that digest, which lets imports into the target dedup against it.
      const hooks = manifest.blocks.flatMap((b, i) => {
        const block = blocks[i]!;
        const n = block.slots.length;
        const anchor = minHook(block.digests, 0, n, (p) => block.slots[p] === ZERO_SLOT);
        const all = hooksOf(block.digests, 0, n);
        return (anchor === undefined || all.includes(anchor) ? all : [...all, anchor]).map((h) => hookKey(h, b.id));
      });
      await settleAll(
        hooks.map((key) =>
          slots.run(async () => {
            if (done.has(key)) return;
            done.add(key);
            await target.put(key, EMPTY, { durable: false });
          }),
        ),
      );
      await copy(manifestKey(id), () => getContent(source, "manifests", id));
      lock.assertHeld();
      // Refs last: the image becomes visible in the target only now.
      const names = [...refs.filter((r) => r.id === id).map((r) => r.name), `${PROTECTED_REFS}${id}`];
      for (const name of names) await copyRef(source, target, name, counts);
      counts.images++;
      report();
    }
  } finally {
    await lock.release();
  }
  return { images: counts.images, copied: counts.copied, bytes: counts.bytes, skipped: counts.skipped };
}

const EMPTY = new Uint8Array(0);

/** A block's bytes, checked against its id, and what they say. */
async function readBlock(store: ObjectStore, image: Sha256Id, id: Sha256Id) {
  try {
    const bytes = await getContent(store, "blocks", id);
    return { bytes, block: decodeBlock(blockKey(id), bytes) };
  } catch (err) {
    throw asImageError(err, image);
  }
}

async function copyRef(
  source: ObjectStore,
  target: ObjectStore,
  name: string,
  counts: { copied: number; bytes: number; skipped: number },
): Promise<void> {
  const value = await source.getRef(name);
  if (value === undefined) return;
  const existing = await target.getRef(name);
  if (existing?.data.equals(value.data)) {
    counts.skipped++;
    return;
  }
  await target.putRef(name, value.data);
  counts.copied++;
  counts.bytes += value.data.length;
}

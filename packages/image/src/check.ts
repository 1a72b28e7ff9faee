/**
 * A whole-store check: does every image the refs hold still export?
 *
 * Structure (always): every ref names a manifest that is present and
 * hashes to its name; every page-list block those manifests list, likewise;
 * every pack those blocks name is present (through its forwards), its
 * header, index and trailer are sound, and it holds a page-sized entry for
 * every page the blocks say it holds. That reads manifests and blocks whole
 * and only the ends of packs.
 *
 * Data (`readData`): packs are read whole, their checksum and their name
 * checked, and every entry hashed against its page digest. `subset` limits
 * that to a deterministic slice of the packs (by pack id), so a schedule of
 * `1/7` … `7/7` reads every pack once a week, and two runs with the same
 * slice read the same packs.
 *
 * Each problem is reported once, as the object at fault and the images it
 * breaks (an object shared by dedup breaks every image that lists it).
 * A store that cannot be reached is an error, never a finding. Nothing in
 * the store is changed unless `moveAside` is asked for.
 *
 * Memory: every live block's page digests and slots (34 bytes a page) are
 * kept for the pack pass: proportional to the pages the live images list.
 */
import { forEachLimited } from "@xenfleet/core";
import { blake3, PAGE_SIZE } from "@xenfleet/native";
import {
  CorruptObjectError,
  ObjectNotFoundError,
  PackReader,
  sha256Id,
  UnsupportedPackError,
  type ObjectStore,
} from "@xenfleet/store";
import {
  ImageCorruptError,
  ImageNotFoundError,
  ImageObjectMissingError,
  ImageUsageError,
  UnsupportedFormatError,
} from "./errors.js";
import { resolvePack } from "./forwards.js";
import { blockKey, manifestKey, packKey, type Sha256Id } from "./keys.js";
import { loadBlock, loadManifest } from "./load.js";
import { ZERO_SLOT } from "./page-list.js";
import { damageOf, quarantineObject } from "./quarantine.js";
import { listImageRefs } from "./refs.js";

/** A deterministic slice of the packs: the n-th of m (1-based), or a fraction of them. */
export type CheckSubset = { readonly n: number; readonly of: number } | { readonly percent: number };

export interface CheckOptions {
  /** Read every pack (or the subset's) whole and hash every page. */
  readonly readData?: boolean;
  readonly subset?: CheckSubset;
  /**
   * Move corrupt objects aside and mark them (quarantine.ts), so that the
   * next save of each affected domain stores their pages anew. Otherwise
   * nothing in the store is changed.
   */
  readonly moveAside?: boolean;
  /** Only these images and the objects they need (a verification of one image); every image the refs hold when absent. */
  readonly images?: readonly Sha256Id[];
  /** Objects read at once (default 8). */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (phase: "manifests" | "blocks" | "packs", done: number, total: number) => void;
}

export type CheckedKind = "manifest" | "block" | "pack";

/** One object at fault, and the images that need it. */
export interface CheckProblem {
  readonly kind: CheckedKind;
  readonly key: string;
  readonly reason: string;
  readonly images: Sha256Id[];
}

export interface CheckResult {
  readonly images: number;
  readonly checked: { manifests: number; blocks: number; packs: number };
  /** Packs read whole, and their bytes (zero without readData). */
  readonly dataRead: { packs: number; bytes: number };
  readonly problems: CheckProblem[];
  /** Every image some problem breaks, with the domains that hold it. */
  readonly brokenImages: Array<{ id: Sha256Id; domains: string[]; keys: string[] }>;
  /** Domains whose newest image is broken: until their next save, nothing of theirs restores as it is now. */
  readonly domainsWithoutGoodImage: string[];
}

/** Parses `1/7` or `10%` (what `--read-data-subset` takes). */
export function parseCheckSubset(text: string): CheckSubset {
  const slice = /^(\d+)\/(\d+)$/.exec(text);
  if (slice !== null) {
    const n = Number(slice[1]);
    const of = Number(slice[2]);
    if (n >= 1 && n <= of) return { n, of };
  }
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent !== null && Number(percent[1]) > 0 && Number(percent[1]) <= 100) return { percent: Number(percent[1]) };
  throw new ImageUsageError(
    `not a subset: ${JSON.stringify(text)} (n/m with 1 <= n <= m, or a percentage such as 10%)`,
  );
}

/** Whether a pack falls in the subset: decided by the first 32 bits of its id, which are uniform. */
export function inSubset(pack: Sha256Id, subset: CheckSubset | undefined): boolean {
  if (subset === undefined) return true;
  const head = Number.parseInt(pack.slice(0, 8), 16);
  if ("of" in subset) return head % subset.of === subset.n - 1;
  return head < (subset.percent / 100) * 2 ** 32;
}

/** What a block's pages need of its packs. */
interface BlockPages {
  readonly packs: readonly Sha256Id[];
  readonly slots: Uint16Array;
  readonly digests: Buffer;
}

export async function checkStore(store: ObjectStore, options: CheckOptions = {}): Promise<CheckResult> {
  const limit = options.concurrency ?? 8;
  const problems = new Map<string, { readonly kind: CheckedKind; reason: string; readonly images: Set<Sha256Id> }>();
  const report = (kind: CheckedKind, key: string, reason: string, images: Iterable<Sha256Id>) => {
    const known = problems.get(key);
    if (known === undefined) problems.set(key, { kind, reason, images: new Set(images) });
    else for (const i of images) known.images.add(i);
  };
  const step = () => options.signal?.throwIfAborted();

  const only = options.images === undefined ? undefined : new Set(options.images);
  const refs = (await listImageRefs(store)).filter((r) => only === undefined || only.has(r.id));
  const domainsOf = new Map<Sha256Id, string[]>();
  for (const id of only ?? []) domainsOf.set(id, []);
  for (const r of refs) append(domainsOf, r.id, r.domain);

  // Manifests: which images list each block.
  const imagesOfBlock = new Map<Sha256Id, Set<Sha256Id>>();
  let manifestsDone = 0;
  await forEachLimited(domainsOf.keys(), limit, async (image) => {
    step();
    try {
      for (const b of (await loadManifest(store, image)).blocks) {
        let images = imagesOfBlock.get(b.id);
        if (images === undefined) imagesOfBlock.set(b.id, (images = new Set()));
        images.add(image);
      }
    } catch (err) {
      report("manifest", manifestKey(image), findingOf(err), [image]);
    }
    options.onProgress?.("manifests", ++manifestsDone, domainsOf.size);
  });

  // Blocks: which blocks name each pack.
  const pagesOfBlock = new Map<Sha256Id, BlockPages>();
  const blocksOfPack = new Map<Sha256Id, Sha256Id[]>();
  let blocksDone = 0;
  await forEachLimited(imagesOfBlock, limit, async ([id, images]) => {
    step();
    try {
      const block = await loadBlock(store, images.values().next().value!, id);
      pagesOfBlock.set(id, { packs: block.packs, slots: block.slots, digests: Buffer.from(block.digests) });
      for (const pack of block.packs) append(blocksOfPack, pack, id);
    } catch (err) {
      report("block", blockKey(id), findingOf(err), images);
    }
    options.onProgress?.("blocks", ++blocksDone, imagesOfBlock.size);
  });

  // Packs: present, sound, holding every page named in them; read whole when asked.
  const dataRead = { packs: 0, bytes: 0 };
  let packsDone = 0;
  await forEachLimited(blocksOfPack, limit, async ([named, blocks]) => {
    step();
    const imagesOf = () => blocks.flatMap((b) => [...imagesOfBlock.get(b)!]);
    let key = packKey(named);
    try {
      const current = await resolvePack(store, named);
      key = packKey(current);
      const readWhole = options.readData === true && inSubset(current, options.subset);
      const reader = readWhole
        ? wholePack(current, await store.get(key))
        : await PackReader.open(store, current, { hashers: { blake3 } });
      if (readWhole) {
        for await (const _ of reader.readAll()) step();
        dataRead.packs++;
        dataRead.bytes += reader.size;
      }
      const lacking = pagesLacking(reader, named, blocks, pagesOfBlock);
      if (lacking.count > 0)
        report(
          "pack",
          key,
          `holds no page-sized entry for ${lacking.count} pages its blocks name`,
          lacking.images(imagesOfBlock),
        );
    } catch (err) {
      report("pack", key, findingOf(err), imagesOf());
    }
    options.onProgress?.("packs", ++packsDone, blocksOfPack.size);
  });

  for (const [key, p] of problems) {
    if (p.reason === "missing") {
      // Missing because a verification moved it aside: say so.
      const damage = await damageOf(store, key);
      if (damage !== undefined) p.reason = `damaged (moved aside ${damage.at}): ${damage.reason}`;
    } else if (options.moveAside === true && (await quarantineObject(store, key, p.reason)) !== undefined) {
      p.reason = `${p.reason} (moved aside)`;
    }
  }
  const brokenImages = new Map<Sha256Id, string[]>();
  for (const [key, p] of problems) for (const i of p.images) append(brokenImages, i, key);
  const newest = new Map<string, { id: Sha256Id; created: number }>();
  for (const r of refs) {
    const best = newest.get(r.domain);
    if (best === undefined || r.created.getTime() >= best.created)
      newest.set(r.domain, { id: r.id, created: r.created.getTime() });
  }
  return {
    images: domainsOf.size,
    checked: { manifests: domainsOf.size, blocks: imagesOfBlock.size, packs: blocksOfPack.size },
    dataRead,
    problems: [...problems].map(([key, p]) => ({ kind: p.kind, key, reason: p.reason, images: [...p.images].sort() })),
    brokenImages: [...brokenImages].map(([id, keys]) => ({ id, domains: domainsOf.get(id) ?? [], keys })),
    domainsWithoutGoodImage: [...newest].filter(([, n]) => brokenImages.has(n.id)).map(([domain]) => domain),
  };
}

/** Adds `value` to the list under `key` (in place: a pack named by thousands of blocks is not copied each time). */
function append<K, V>(lists: Map<K, V[]>, key: K, value: V): void {
  const list = lists.get(key);
  if (list === undefined) lists.set(key, [value]);
  else list.push(value);
}

/**
 * A pack read whole, checked to hash to its name: then its bytes are the
 * ones written, and its own checksum (a second SHA-256 pass) adds nothing.
 * Entries are checked against their ids as they are read.
 */
function wholePack(id: Sha256Id, bytes: Buffer): PackReader {
  const actual = sha256Id(bytes);
  if (actual !== id) throw new CorruptObjectError(packKey(id), `pack hashes to ${actual}, expected its id ${id}`);
  return PackReader.fromBytes(id, bytes, { checkWhole: false, hashers: { blake3 } });
}

/** Pages the blocks place in `pack` that the pack does not hold as a page-sized entry, and the blocks they are in. */
function pagesLacking(
  reader: PackReader,
  pack: Sha256Id,
  blocks: readonly Sha256Id[],
  pagesOfBlock: ReadonlyMap<Sha256Id, BlockPages>,
): { count: number; images: (imagesOfBlock: ReadonlyMap<Sha256Id, Set<Sha256Id>>) => Sha256Id[] } {
  const sizes = new Map(reader.entries.map((e) => [e.id, e.length]));
  let count = 0;
  const lackingBlocks: Sha256Id[] = [];
  for (const id of blocks) {
    const { packs, slots, digests } = pagesOfBlock.get(id)!;
    const slot = packs.indexOf(pack);
    let here = 0;
    for (let i = 0; i < slots.length; i++) {
      if (slots[i] === ZERO_SLOT || slots[i] !== slot) continue;
      if (sizes.get(digests.toString("hex", i * 32, i * 32 + 32)) !== PAGE_SIZE) here++;
    }
    if (here > 0) lackingBlocks.push(id);
    count += here;
  }
  return { count, images: (imagesOfBlock) => lackingBlocks.flatMap((b) => [...imagesOfBlock.get(b)!]) };
}

/**
 * What is wrong with an object, from the error reading it; an error that
 * says nothing about the object (the store unreachable, an abort) is thrown.
 */
function findingOf(err: unknown): string {
  if (err instanceof ImageNotFoundError || err instanceof ImageObjectMissingError || err instanceof ObjectNotFoundError)
    return "missing";
  if (err instanceof ImageCorruptError || err instanceof CorruptObjectError) return err.detail;
  if (err instanceof UnsupportedFormatError || err instanceof UnsupportedPackError) return `unreadable: ${err.detail}`;
  throw err;
}

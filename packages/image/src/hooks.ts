/**
 * The hook index: sparse indexing (Lillibridge et al., "Sparse Indexing",
 * FAST '09) over page list blocks. A page whose digest starts with
 * HOOK_ZERO_BITS zero bits is a hook (1 page in 32, so about 8 per block
 * of 256 pages: a block with no hook could never be found). For every hook of a new block the importer writes an
 * empty object hooks/<hook>/<block id>; finding the blocks that share hooks
 * with incoming pages is then a listing of a few prefixes, and never needs
 * an index of the whole store in memory. Digests are uniform, so the hooks
 * of two blocks overlap in proportion to the pages they share.
 *
 * Hooks are advisory: a missing hook costs dedup, never correctness, and a
 * hook whose block is gone is ignored (and swept by GC).
 */
import type { ObjectStore, Semaphore } from "@xenfleet/store";
import { HOOKS, hookKey, hookPrefix, type Sha256Id } from "./keys.js";
import { settleAll } from "./settle.js";

export const HOOK_ZERO_BITS = 5;
/** Digest bytes naming a hook: 96 bits, so unrelated pages practically never share one. */
const HOOK_BYTES = 12;
/** Blocks read per hook listing: a hook shared by thousands of images (a common page) says little, so the listing is cut short. */
export const MAX_BLOCKS_PER_HOOK = 64;

export function isHook(digests: Uint8Array, page: number): boolean {
  return digests[page * 32]! >>> (8 - HOOK_ZERO_BITS) === 0;
}

export function hookName(digests: Uint8Array, page: number): string {
  return Buffer.from(digests.buffer, digests.byteOffset + page * 32, HOOK_BYTES).toString("hex");
}

/** The distinct hooks among pages [from, to) of a digest array whose flag is 1 (all pages without flags); zero pages never. */
export function hooksOf(digests: Uint8Array, from: number, to: number, flags?: Uint8Array): string[] {
  const hooks = new Set<string>();
  for (let i = from; i < to; i++) {
    if (flags !== undefined && flags[i] !== 1) continue;
    if (isHook(digests, i) && !isZeroDigest(digests, i)) hooks.add(hookName(digests, i));
  }
  return [...hooks];
}

/**
 * The smallest non-zero digest among pages [from, to) as a hook name, or
 * undefined if all are zero. Every block also gets this hook: a block with
 * few non-zero pages often has no sampled hook and could never be found.
 * The query side takes the smallest digest of each block-sized window of
 * the incoming pages, which is the same page whenever that page is unchanged.
 */
export function minHook(
  digests: Uint8Array,
  from: number,
  to: number,
  isZero: (page: number) => boolean,
): string | undefined {
  const page = smallestPage(digests, from, to, isZero);
  return page === undefined ? undefined : hookName(digests, page);
}

/** The page among [from, to) with the smallest non-zero digest, or undefined if all are zero. */
export function smallestPage(
  digests: Uint8Array,
  from: number,
  to: number,
  isZero: (page: number) => boolean,
): number | undefined {
  let best = -1;
  const view = Buffer.from(digests.buffer, digests.byteOffset, digests.byteLength);
  for (let i = from; i < to; i++) {
    if (isZero(i)) continue;
    if (best < 0 || view.compare(view, i * 32, i * 32 + 32, best * 32, best * 32 + 32) > 0) best = i;
  }
  return best < 0 ? undefined : best;
}

/**
 * Not synced: a hook lost in a crash costs dedup only (see above), and
 * syncing hundreds a night would slow every import. Each put takes one of
 * `slots`, which the importer shares among all its puts.
 */
export async function writeHooks(
  store: ObjectStore,
  block: Sha256Id,
  hooks: readonly string[],
  slots: Semaphore,
): Promise<void> {
  await settleAll(hooks.map((h) => slots.run(() => store.put(hookKey(h, block), EMPTY, { durable: false }))));
}

/** For each block sharing at least one of `hooks`, which ones it shares. */
export async function blocksSharingHooks(
  store: ObjectStore,
  hooks: readonly string[],
): Promise<Map<Sha256Id, Set<string>>> {
  const shared = new Map<Sha256Id, Set<string>>();
  await Promise.all(
    hooks.map(async (hook) => {
      let seen = 0;
      for await (const entry of store.list(hookPrefix(hook))) {
        const block = entry.key.slice(entry.key.lastIndexOf("/") + 1) as Sha256Id;
        const set = shared.get(block) ?? new Set<string>();
        set.add(hook);
        shared.set(block, set);
        if (++seen >= MAX_BLOCKS_PER_HOOK) break;
      }
    }),
  );
  return shared;
}

/**
 * Picks up to `k` champions greedily: each time the block sharing the most
 * hooks not yet covered by those already picked (ties: the smaller id, for
 * determinism). Many near-identical blocks (clones of one template) then
 * do not crowd out the blocks covering the rest of the segment.
 */
export function pickChampions(
  shared: Map<Sha256Id, Set<string>>,
  k: number,
  exclude: (id: Sha256Id) => boolean,
): Sha256Id[] {
  const covered = new Set<string>();
  const picked: Sha256Id[] = [];
  const candidates = [...shared.entries()].filter(([id]) => !exclude(id)).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  while (picked.length < k) {
    let best: Sha256Id | undefined;
    let bestGain = 0;
    for (const [id, hooks] of candidates) {
      if (picked.includes(id)) continue;
      let gain = 0;
      for (const h of hooks) if (!covered.has(h)) gain++;
      if (gain > bestGain) {
        best = id;
        bestGain = gain;
      }
    }
    if (best === undefined) break;
    picked.push(best);
    for (const h of shared.get(best)!) covered.add(h);
  }
  return picked;
}

/** The block a hook key points at. */
export function hookTarget(key: string): { hook: string; block: Sha256Id } | undefined {
  const m = /^hooks\/([0-9a-f]+)\/([0-9a-f]{64})$/.exec(key);
  return m === null ? undefined : { hook: m[1]!, block: m[2] as Sha256Id };
}

export { HOOKS };

const EMPTY = new Uint8Array(0);

function isZeroDigest(digests: Uint8Array, page: number): boolean {
  for (let i = page * 32; i < page * 32 + 32; i++) if (digests[i] !== 0) return false;
  return true;
}

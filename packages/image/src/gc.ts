/**
 * Garbage collection: mark from refs, sweep what nothing reaches, under an
 * exclusive lock so no import runs meanwhile (README.md, "GC and concurrent
 * imports", has the argument in full).
 *
 * Mark. Roots are the images refs hold, plus every manifest and block
 * younger than the grace period (a crashed or just-finished import's
 * objects, and whatever a retry may be about to reuse). Live blocks are
 * those the live manifests list; live packs, those the live blocks name,
 * plus the targets of forwards from live packs.
 *
 * Sweep, top down: hooks, manifests, blocks, forwards, packs, so that at
 * every moment — even if GC dies halfway — every object still present
 * names only objects still present: an import that finds a block through a
 * hook can trust the packs it names. Nothing younger than the grace period
 * is deleted. A live pack that was rewritten (a forward to a pack that
 * exists, older than the grace period) has its old bytes deleted.
 *
 * Memory: the live block and pack ids (about 40 bytes each, in
 * DigestTables) and the manifest listing; proportional to the live store,
 * which mark-and-sweep cannot avoid (README.md, "Limits").
 */
import type { ListEntry, ObjectStore } from "@xenfleet/store";
import { DigestTable } from "./digest-table.js";
import { readForward } from "./forwards.js";
import { hookTarget } from "./hooks.js";
import { BLOCKS, FORWARDS, HOOKS, MANIFESTS, PACKS, idFromKey, type Sha256Id } from "./keys.js";
import { loadBlock, loadManifest } from "./load.js";
import { acquireLock, DEFAULT_STALE_MS, isStale, listLocks, type LockOptions } from "./locks.js";
import { listImageRefs } from "./refs.js";
import { HEALTH_REFS } from "./health.js";
import { VERIFIED_REFS } from "./verification.js";

export interface GcOptions {
  /** Objects younger than this are never deleted (default 1 hour). */
  readonly graceMs?: number;
  readonly lock?: LockOptions;
  /** Mark and report, delete nothing. */
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (phase: string, done: number) => void;
}

export interface GcResult {
  readonly images: number;
  readonly live: { manifests: number; blocks: number; packs: number };
  readonly deleted: {
    hooks: number;
    manifests: number;
    blocks: number;
    forwards: number;
    packs: number;
    rewrittenPacks: number;
    locks: number;
    /** Temporary files of writers killed mid-put (filesystem stores), older than the grace period. */
    temporary: number;
    /** Verification and health check records (refs/verified/, refs/health/) of images no ref holds. */
    verifications: number;
  };
  readonly bytesFreed: number;
  /** Objects live images need that are missing (their images are broken; `image verify` names them). */
  readonly missing: string[];
}

export const DEFAULT_GRACE_MS = 60 * 60 * 1000;

export async function gc(store: ObjectStore, options: GcOptions = {}): Promise<GcResult> {
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const lock = await acquireLock(store, "exclusive", { ...options.lock, purpose: "gc" });
  try {
    const now = Date.now();
    const young = (e: ListEntry) => now - e.mtime.getTime() < graceMs;
    const missing: string[] = [];
    const check = () => {
      options.signal?.throwIfAborted();
      lock.assertHeld();
    };

    // Mark.
    const refs = await listImageRefs(store);
    const manifests = await listAll(store, MANIFESTS);
    const liveManifests = new Set<Sha256Id>(refs.map((r) => r.id));
    for (const e of manifests) if (young(e)) liveManifests.add(idFromKey(e.key)!);
    const liveBlocks = new DigestTable(1 << 14);
    for (const id of liveManifests) {
      check();
      try {
        for (const b of (await loadManifest(store, id)).blocks) liveBlocks.add(Buffer.from(b.id, "hex"), 0, 1);
      } catch (err) {
        missing.push(`manifest ${id}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const blocks = await listAll(store, BLOCKS);
    const blockIds = new Set(blocks.map((e) => idFromKey(e.key)));
    for (const e of blocks) if (young(e)) liveBlocks.add(Buffer.from(idFromKey(e.key)!, "hex"), 0, 1);
    const livePacks = new DigestTable(1 << 14);
    let liveBlockCount = 0;
    for (const e of blocks) {
      const id = idFromKey(e.key)!;
      if (!liveBlocks.has(Buffer.from(id, "hex"))) continue;
      check();
      liveBlockCount++;
      try {
        for (const p of (await loadBlock(store, id, id)).packs) livePacks.add(Buffer.from(p, "hex"), 0, 1);
      } catch (err) {
        missing.push(`block ${id}: ${err instanceof Error ? err.message : String(err)}`);
      }
      options.onProgress?.("mark", liveBlockCount);
    }
    if (liveBlockCount < liveBlocks.size) {
      // A live manifest names a block that is not in the listing.
      for (const id of liveManifests) {
        try {
          for (const b of (await loadManifest(store, id)).blocks)
            if (!blockIds.has(b.id)) missing.push(`block ${b.id} of image ${id}`);
        } catch {
          // already reported
        }
      }
    }
    // Forwards from live packs keep their targets alive (chains: repeat until nothing changes).
    const forwards = await listAll(store, FORWARDS);
    const forwardTo = new Map<Sha256Id, { to: Sha256Id; entry: ListEntry }>();
    for (const e of forwards) {
      const from = idFromKey(e.key)!;
      const record = await readForward(store, from).catch(() => undefined);
      if (record !== undefined) forwardTo.set(from, { to: record.to, entry: e });
    }
    for (let changed = true; changed; ) {
      changed = false;
      for (const [from, { to }] of forwardTo) {
        if (livePacks.has(Buffer.from(from, "hex")) && !livePacks.has(Buffer.from(to, "hex"))) {
          livePacks.add(Buffer.from(to, "hex"), 0, 1);
          changed = true;
        }
      }
    }

    // Sweep, top down.
    const deleted = {
      hooks: 0,
      manifests: 0,
      blocks: 0,
      forwards: 0,
      packs: 0,
      rewrittenPacks: 0,
      locks: 0,
      temporary: 0,
      verifications: 0,
    };
    let bytesFreed = 0;
    const remove = async (e: ListEntry, kind: keyof typeof deleted) => {
      check();
      deleted[kind]++;
      bytesFreed += e.size;
      if (!options.dryRun) await store.delete(e.key);
    };
    for await (const e of store.list(HOOKS)) {
      const target = hookTarget(e.key);
      if (young(e)) continue;
      if (target === undefined || !liveBlocks.has(Buffer.from(target.block, "hex"))) await remove(e, "hooks");
    }
    for (const e of manifests) if (!liveManifests.has(idFromKey(e.key)!)) await remove(e, "manifests");
    for (const e of blocks)
      if (!young(e) && !liveBlocks.has(Buffer.from(idFromKey(e.key)!, "hex"))) await remove(e, "blocks");
    const packs = await listAll(store, PACKS);
    const packIds = new Set(packs.map((e) => idFromKey(e.key)));
    missing.push(...missingPacks(livePacks, packIds, forwardTo));
    for (const [from, { entry }] of forwardTo)
      if (!young(entry) && !livePacks.has(Buffer.from(from, "hex"))) await remove(entry, "forwards");
    for (const e of packs) {
      if (young(e)) continue;
      const id = idFromKey(e.key)!;
      if (!livePacks.has(Buffer.from(id, "hex"))) {
        await remove(e, "packs");
        continue;
      }
      const forward = forwardTo.get(id);
      if (forward !== undefined && !young(forward.entry) && packIds.has(forward.to)) await remove(e, "rewrittenPacks");
    }
    // Verification and health check records of images no ref holds any more.
    const held = new Set<string>(refs.map((r) => r.id));
    for (const records of [VERIFIED_REFS, HEALTH_REFS])
      for await (const e of store.listRefs(records)) {
        if (held.has(e.key.slice(records.length)) || young(e)) continue;
        check();
        deleted.verifications++;
        if (!options.dryRun) await store.deleteRef(e.key);
      }
    for (const l of await listLocks(store)) {
      if (l.key !== lock.key && isStale(l.record, options.lock?.staleMs ?? DEFAULT_STALE_MS)) {
        deleted.locks++;
        if (!options.dryRun) await store.delete(l.key);
      }
    }
    if (store.sweepTemporary !== undefined) {
      check();
      const swept = await store.sweepTemporary(graceMs, { dryRun: options.dryRun ?? false });
      deleted.temporary = swept.files;
      bytesFreed += swept.bytes;
    }
    return {
      images: refs.length,
      live: { manifests: liveManifests.size, blocks: liveBlockCount, packs: livePacks.size },
      deleted,
      bytesFreed,
      missing,
    };
  } finally {
    await lock.release();
  }
}

/**
 * Live packs that are not in the store. A pack that was rewritten may be
 * gone once its forward's target exists: blocks still name the old id, and
 * reads follow the forward.
 */
function missingPacks(
  livePacks: DigestTable,
  packIds: Set<Sha256Id | undefined>,
  forwardTo: Map<Sha256Id, { to: Sha256Id }>,
): string[] {
  const out: string[] = [];
  for (const id of livePacks.hexKeys()) {
    if (packIds.has(id)) continue;
    let to = forwardTo.get(id)?.to;
    for (let hops = 0; to !== undefined && !packIds.has(to) && hops < 64; hops++) to = forwardTo.get(to)?.to;
    if (to === undefined || !packIds.has(to)) out.push(`pack ${id}`);
  }
  return out;
}

async function listAll(store: ObjectStore, prefix: string): Promise<ListEntry[]> {
  const out: ListEntry[] = [];
  for await (const e of store.list(prefix)) if (idFromKey(e.key) !== undefined) out.push(e);
  return out;
}

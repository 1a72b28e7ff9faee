/**
 * Damaged objects, moved aside rather than deleted: a corrupt pack, block
 * or manifest found by a verification is copied to `quarantine/<its key>`
 * (for forensics, or for a repair by hand), marked by a small record at
 * `damaged/<its key>`, and only then deleted from its own key. A crash
 * between the steps leaves the bytes in two places, never in none.
 *
 * A damaged pack is never a dedup target again: an import reads the
 * damaged packs first (one listing, empty on a healthy store) and stores
 * their pages anew when the domain is next saved. Blocks name packs by
 * the id they were written with; a pack rewritten by compression is read
 * through its forward, so the forwards leading to a damaged pack are
 * marked too.
 */
import { ObjectNotFoundError, sha256Id, type ObjectStore } from "@xenfleet/store";
import { FORWARDS, idFromKey, PACKS, packKey, type Sha256Id } from "./keys.js";
import { readForward } from "./forwards.js";

export const QUARANTINE = "quarantine/";
export const DAMAGED = "damaged/";

export interface DamageRecord {
  readonly key: string;
  readonly reason: string;
  readonly at: string;
  /** Where the bytes went (absent for a pack marked only because a forward leads to a damaged one). */
  readonly movedTo?: string;
}

/**
 * Moves a damaged object aside and marks it; returns the record. Idempotent.
 * The object is read again first: one that now hashes to its name (the
 * damage was in a read, not in the store) is left where it is, and
 * undefined returned.
 */
export async function quarantineObject(
  store: ObjectStore,
  key: string,
  reason: string,
): Promise<DamageRecord | undefined> {
  const at = new Date().toISOString();
  const bytes = await store.get(key).catch((err: unknown) => {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  });
  if (bytes !== undefined && sha256Id(bytes) === idFromKey(key)) return undefined;
  const movedTo = `${QUARANTINE}${key}`;
  if (bytes !== undefined) await store.put(movedTo, bytes);
  const record: DamageRecord = { key, reason, at, ...(bytes === undefined ? {} : { movedTo }) };
  await mark(store, record);
  const pack = key.startsWith(PACKS) ? idFromKey(key) : undefined;
  if (pack !== undefined)
    for (const from of await forwardsTo(store, pack))
      await mark(store, { key: packKey(from), reason: `its rewritten copy ${key} is damaged: ${reason}`, at });
  if (bytes !== undefined) await store.delete(key);
  return record;
}

/** The record of a damaged object, or undefined. */
export async function damageOf(store: ObjectStore, key: string): Promise<DamageRecord | undefined> {
  try {
    return JSON.parse((await store.get(`${DAMAGED}${key}`)).toString("utf8")) as DamageRecord;
  } catch {
    return undefined;
  }
}

/** The ids of every pack marked damaged. */
export async function damagedPacks(store: ObjectStore): Promise<Set<Sha256Id>> {
  const ids = new Set<Sha256Id>();
  for await (const e of store.list(`${DAMAGED}${PACKS}`)) {
    const id = idFromKey(e.key);
    if (id !== undefined) ids.add(id);
  }
  return ids;
}

async function mark(store: ObjectStore, record: DamageRecord): Promise<void> {
  const key = `${DAMAGED}${record.key}`;
  if ((await store.head(key)) === undefined) await store.put(key, Buffer.from(JSON.stringify(record)));
}

/** Packs whose forwards lead (through any chain) to `pack`. */
async function forwardsTo(store: ObjectStore, pack: Sha256Id): Promise<Sha256Id[]> {
  const to = new Map<Sha256Id, Sha256Id>();
  for await (const e of store.list(FORWARDS)) {
    const from = idFromKey(e.key);
    const record = from === undefined ? undefined : await readForward(store, from).catch(() => undefined);
    if (record !== undefined) to.set(from!, record.to);
  }
  const leading = new Set<Sha256Id>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const [from, target] of to)
      if (!leading.has(from) && (target === pack || leading.has(target))) {
        leading.add(from);
        changed = true;
      }
  }
  return [...leading];
}

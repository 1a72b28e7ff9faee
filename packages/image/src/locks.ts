/**
 * Locks that keep a GC sweep and imports apart (see README.md, "GC and
 * concurrent imports"). A lock is a small object locks/<id>-<n> holding
 * JSON {kind, owner, host, pid, purpose, refreshed}; it is refreshed by
 * writing locks/<id>-<n+1> and then deleting the previous one, since
 * objects are never overwritten.
 *
 * A lock is stale (its holder taken to be dead, everyone ignores it, GC
 * deletes it) when either holds:
 * - it names this host and a pid that no longer runs here: a killed holder
 *   releases its lock at once;
 * - it was not refreshed for `staleMs` (a lease, 30 s by default, renewed
 *   every 5 s): the only test possible for a holder on another host.
 *
 * Both sides write their own lock first and list the others second. Listing
 * sees every object whose put completed before it started, so of two
 * processes racing to lock, at least one sees the other's lock and backs
 * off: an import and a sweep never run at the same time. An import whose own
 * lock went stale (it could not refresh, or was stopped for a long time)
 * refuses to commit, since a sweep may have run meanwhile (LockLostError).
 */
import { sleep, isProcessRunning } from "@xenfleet/core";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { ObjectNotFoundError, type ObjectStore } from "@xenfleet/store";
import { LockLostError, StoreLockedError } from "./errors.js";
import { LOCKS, lockKey } from "./keys.js";

export type LockKind = "shared" | "exclusive";

export interface LockOptions {
  /** A lock not refreshed for this long is stale (default 30 seconds). */
  readonly staleMs?: number;
  /** How often the holder refreshes (default staleMs / 6). */
  readonly refreshMs?: number;
  /** How long to wait for a conflicting lock to go away before StoreLockedError (default 0: fail at once). */
  readonly waitMs?: number;
  /** What the lock is for, shown to whoever is refused. */
  readonly purpose?: string;
}

export const DEFAULT_STALE_MS = 30 * 1000;

export interface LockRecord {
  readonly kind: LockKind;
  /** "host:pid", for people. */
  readonly owner: string;
  /** The holder's host name and process id (absent in locks written before they were recorded). */
  readonly host?: string;
  readonly pid?: number;
  readonly purpose: string;
  /** When it was last refreshed, milliseconds since the epoch. */
  readonly refreshed: number;
}

export interface HeldLock {
  readonly kind: LockKind;
  /** The key of the lock object right now (it changes on every refresh). */
  readonly key: string;
  /** Throws LockLostError if the lock went stale: the holder must not commit. */
  assertHeld(): void;
  release(): Promise<void>;
}

/** Every lock in the store with its record; unreadable or vanished ones are skipped. */
export async function listLocks(store: ObjectStore): Promise<Array<{ key: string; id: string; record: LockRecord }>> {
  const out: Array<{ key: string; id: string; record: LockRecord }> = [];
  for await (const entry of store.list(LOCKS)) {
    try {
      const record = JSON.parse((await store.get(entry.key)).toString("utf8")) as LockRecord;
      if (record.kind !== "shared" && record.kind !== "exclusive") continue;
      out.push({ key: entry.key, id: lockIdOf(entry.key), record });
    } catch (err) {
      if (err instanceof ObjectNotFoundError || err instanceof SyntaxError) continue;
      throw err;
    }
  }
  return out;
}

export function isStale(record: LockRecord, staleMs: number = DEFAULT_STALE_MS, now = Date.now()): boolean {
  if (record.host === hostname() && typeof record.pid === "number" && !isProcessRunning(record.pid)) return true;
  return now - record.refreshed > staleMs;
}

/**
 * Takes a lock: shared locks exclude only exclusive ones, an exclusive lock
 * excludes every other lock. Waits up to `waitMs` for conflicting locks to
 * be released, then throws StoreLockedError.
 */
export async function acquireLock(store: ObjectStore, kind: LockKind, options: LockOptions = {}): Promise<HeldLock> {
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const refreshMs = options.refreshMs ?? Math.max(1, Math.floor(staleMs / 6));
  const waitUntil = Date.now() + (options.waitMs ?? 0);
  const id = `${kind}-${randomBytes(8).toString("hex")}`;
  const host = hostname();
  const owner = `${host}:${process.pid}`;
  const purpose = options.purpose ?? kind;
  let seq = 0;
  let key = lockKey(`${id}-${seq}`);
  let refreshed = Date.now();
  const write = async (at: string, time: number) => {
    await store.put(
      at,
      Buffer.from(
        JSON.stringify({ kind, owner, host, pid: process.pid, purpose, refreshed: time } satisfies LockRecord),
      ),
    );
  };

  for (;;) {
    refreshed = Date.now();
    await write(key, refreshed);
    const others = (await listLocks(store)).filter((l) => l.id !== id && !isStale(l.record, staleMs));
    const conflicts = kind === "exclusive" ? others : others.filter((l) => l.record.kind === "exclusive");
    if (conflicts.length === 0) break;
    await store.delete(key);
    if (Date.now() >= waitUntil) {
      throw new StoreLockedError(
        conflicts.map((c) => `${c.record.kind} lock of ${c.record.owner} for ${c.record.purpose}`),
        `cannot take a ${kind} lock for ${purpose}`,
      );
    }
    await sleep(Math.min(1000, Math.max(10, waitUntil - Date.now())));
  }

  let released = false;
  let refreshing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    refreshing = refreshing.then(async () => {
      if (released) return;
      try {
        const time = Date.now();
        const next = lockKey(`${id}-${seq + 1}`);
        await write(next, time);
        const previous = key;
        seq++;
        key = next;
        refreshed = time;
        await store.delete(previous);
      } catch {
        // A failed refresh is retried at the next tick; if none succeeds in
        // time the lock goes stale and assertHeld() stops the commit.
      }
    });
  }, refreshMs);
  timer.unref();

  return {
    kind,
    get key() {
      return key;
    },
    assertHeld() {
      const age = Date.now() - refreshed;
      // A margin of one refresh period: the lock must still be fresh by the time the commit lands.
      if (age + refreshMs > staleMs)
        throw new LockLostError(key, `not refreshed for ${age} ms (stale after ${staleMs} ms)`);
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await refreshing;
      await store.delete(key);
    },
  };
}

function lockIdOf(key: string): string {
  const name = key.slice(LOCKS.length);
  return name.slice(0, name.lastIndexOf("-"));
}

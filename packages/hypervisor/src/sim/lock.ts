import { readFileSync } from "node:fs";
import { open, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { DomainBusyError } from "../errors.js";
import { isProcessRunning } from "@xenfleet/core";

/**
 * Lock files, so that several processes on one host (save, restore and migrate
 * workers) can work on one sim state directory. A lock is a file created with
 * O_EXCL holding its owner's pid, host name and process start time; a lock
 * whose owner process is gone (crashed worker) is stale and broken.
 */
interface Owner {
  pid: number;
  host: string;
  /** Process start time from /proc, so a recycled pid is not mistaken for the owner. */
  start: string | undefined;
}

const self: Owner = { pid: process.pid, host: hostname(), start: processStart(process.pid) };

export interface LockOptions {
  /** How long to wait for a busy lock before DomainBusyError (default 5000 ms). */
  waitMs?: number;
  signal?: AbortSignal;
}

export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  await acquire(path, options);
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}

export async function acquire(path: string, options: LockOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.waitMs ?? 5000);
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    options.signal?.throwIfAborted();
    if (await tryCreate(path)) return;
    const owner = await readOwner(path);
    if (owner && !isAlive(owner)) {
      await breakStale(path, owner);
      continue;
    }
    if (Date.now() >= deadline) throw new DomainBusyError(path, owner?.pid);
    await sleep(delay);
  }
}

async function tryCreate(path: string): Promise<boolean> {
  try {
    const fh = await open(path, "wx");
    await fh.writeFile(JSON.stringify(self));
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Owner;
  } catch {
    // Vanished, or caught between create and write: treat as held for now.
    return undefined;
  }
}

function isAlive(owner: Owner): boolean {
  if (owner.host !== self.host) return true; // cannot tell: assume alive
  if (owner.pid === self.pid) return owner.start === self.start;
  if (!isProcessRunning(owner.pid)) return false;
  const start = processStart(owner.pid);
  return start === undefined || owner.start === undefined || start === owner.start;
}

/**
 * Two processes may find the same stale lock; if both unlinked it, the slower
 * would remove the faster's fresh lock. So breaking takes its own short lock,
 * re-reads the owner under it, and unlinks only if it is still the dead one.
 */
async function breakStale(path: string, dead: Owner): Promise<void> {
  const breaker = `${path}.break`;
  if (!(await tryCreate(breaker))) {
    // A breaker that crashed mid-way leaves this behind; it is only ever held briefly.
    const age = await stat(breaker).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > 10_000) await rm(breaker, { force: true });
    await sleep(5);
    return;
  }
  try {
    const owner = await readOwner(path);
    if (owner && owner.pid === dead.pid && owner.start === dead.start && owner.host === dead.host) {
      await rm(path, { force: true });
    }
  } finally {
    await rm(breaker, { force: true });
  }
}

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22, counted after the parenthesised command name (which may hold spaces).
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

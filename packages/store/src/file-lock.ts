import { randomInt } from "node:crypto";
import { open, stat, unlink } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { StoreUnavailableError } from "./errors.js";

export interface FileLockOptions {
  /** Give up (StoreUnavailableError, retryable) after waiting this long. */
  readonly timeoutMs?: number;
  /** A lock file older than this is taken to be left by a crashed holder and is broken. */
  readonly staleMs?: number;
}

/**
 * Runs `fn` holding an exclusive lock file at `path`, created with O_EXCL so
 * that only one process at a time can hold it. A holder that crashes leaves
 * the file behind; after `staleMs` another caller breaks it. Holders finish
 * well within that (a ref update is a few small writes), so a broken lock
 * belonged to a dead holder in practice.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(path, "wx");
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && Date.now() - info.mtimeMs > staleMs) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new StoreUnavailableError("lock", path, `lock held for more than ${timeoutMs} ms`);
    await sleep(randomInt(2, 20));
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

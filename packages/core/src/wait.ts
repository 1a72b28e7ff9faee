/** Waiting: a pause that an abort cuts short, and polling for a condition with a deadline. */
import { PollTimeoutError } from "./errors.js";

/**
 * Resolves after `ms`, or as soon as `signal` aborts (it never rejects: the
 * caller checks its signal, which is what lets a loop stop promptly without
 * every sleep needing a catch).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

export interface PollOptions {
  /** Time between checks. Default 250 ms. */
  intervalMs?: number;
  /** Give up (PollTimeoutError) after this long. Default: never. */
  timeoutMs?: number;
  /** Aborting stops the wait with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Calls `check` until it returns something other than undefined, null or
 * false, and returns that. `what` names the condition in the timeout error
 * ("hosts to come up").
 */
export async function poll<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: PollOptions = {},
): Promise<T> {
  const interval = options.intervalMs ?? 250;
  const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + options.timeoutMs;
  for (;;) {
    options.signal?.throwIfAborted();
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    const left = deadline - performance.now();
    if (left <= 0) throw new PollTimeoutError(what, options.timeoutMs ?? 0);
    await sleep(Math.min(interval, left), options.signal);
  }
}

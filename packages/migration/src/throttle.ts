/**
 * A token bucket limiting bytes per second. Tokens accrue at `rate` up to
 * `burst`; taking n bytes waits until n tokens exist (a take larger than the
 * burst is allowed to drive the bucket negative, so big frames are not
 * refused, only paid for afterwards). Clock and sleep are injectable so tests
 * check the arithmetic, not the wall clock.
 *
 * Waiting takes are served by priority (lowest first), then in arrival
 * order. A host's link shared by several migrations gives it to the oldest
 * one rather than splitting it evenly: migrations then finish one after
 * another while the next ones are already connected and sending, instead of
 * all finishing together and leaving the link idle while the next wave
 * starts; each migration also gets the whole link, which is what makes
 * pre-copy converge. So that a waiting migration's connection never goes
 * idle for long, a take waiting longer than `maxWaitMs` goes first.
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

export interface TokenBucketOptions {
  /** Bytes per second, > 0. */
  rate: number;
  /** Largest burst in bytes (default: 1/10 s of rate, at least 64 KiB). */
  burst?: number;
  /** A take waiting this long is served before any other (default 2000 ms). */
  maxWaitMs?: number;
  clock?: Clock;
}

interface Waiter {
  bytes: number;
  priority: number;
  since: number;
  resolve: () => void;
}

export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  readonly maxWaitMs: number;
  private tokens: number;
  private last: number;
  private readonly clock: Clock;
  private readonly waiters: Waiter[] = [];
  private serving = false;

  constructor(options: TokenBucketOptions) {
    if (!(options.rate > 0) || !Number.isFinite(options.rate))
      throw new RangeError(`rate must be a positive number of bytes per second, got ${options.rate}`);
    this.rate = options.rate;
    this.burst = options.burst ?? Math.max(64 * 1024, options.rate / 10);
    this.maxWaitMs = options.maxWaitMs ?? 2000;
    this.clock = options.clock ?? realClock;
    this.tokens = this.burst;
    this.last = this.clock.now();
  }

  /** Resolves once `bytes` may be sent; `priority` orders waiting takes (lower first). */
  take(bytes: number, signal?: AbortSignal, priority = 0): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
      };
      const w: Waiter = {
        bytes,
        priority,
        since: this.clock.now(),
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(w);
      void this.serve();
    });
  }

  /** How long a take of `bytes` would wait now, in ms (0 when tokens suffice). */
  delayFor(bytes: number): number {
    this.refill();
    const need = Math.min(bytes, this.burst);
    return this.tokens >= need ? 0 : ((need - this.tokens) / this.rate) * 1000;
  }

  /** Serves waiting takes one at a time; choosing again after every sleep lets a higher priority that arrived meanwhile go first. */
  private async serve(): Promise<void> {
    if (this.serving) return;
    this.serving = true;
    try {
      while (this.waiters.length > 0) {
        const w = this.next();
        const wait = this.delayFor(w.bytes);
        if (wait > 0) {
          await this.clock.sleep(wait);
          continue;
        }
        this.waiters.splice(this.waiters.indexOf(w), 1);
        this.tokens -= w.bytes;
        w.resolve();
      }
    } finally {
      this.serving = false;
    }
  }

  private next(): Waiter {
    const now = this.clock.now();
    let best = this.waiters[0]!;
    for (const w of this.waiters) {
      const starved = now - w.since >= this.maxWaitMs;
      const bestStarved = now - best.since >= this.maxWaitMs;
      if (starved !== bestStarved ? starved : starved ? w.since < best.since : w.priority < best.priority) best = w;
    }
    return best;
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}

/** Parses "100M", "1.5G", "512K" or a byte count per second. */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?(?:\/s)?\s*$/i.exec(text);
  if (!m) throw new RangeError(`not a rate: ${JSON.stringify(text)} (examples: 100M, 1G, 512K per second)`);
  const units: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  const n = Number(m[1]) * (units[(m[2] ?? "").toLowerCase()] ?? 1);
  if (!(n > 0) || !Number.isSafeInteger(Math.round(n))) throw new RangeError(`rate out of range: ${text}`);
  return Math.round(n);
}

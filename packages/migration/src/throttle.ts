/**
 * A token bucket limiting bytes per second. Tokens accrue at `rate` up to
 * `burst`; taking n bytes waits until n tokens exist (a take larger than the
 * burst is allowed to drive the bucket negative, so big frames are not
 * refused, only paid for afterwards). Clock and sleep are injectable so tests
 * check the arithmetic, not the wall clock.
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
  clock?: Clock;
}

export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  private tokens: number;
  private last: number;
  private readonly clock: Clock;
  /** Takes are served in order, so concurrent senders share the rate fairly. */
  private queue: Promise<void> = Promise.resolve();

  constructor(options: TokenBucketOptions) {
    if (!(options.rate > 0) || !Number.isFinite(options.rate)) throw new RangeError(`rate must be a positive number of bytes per second, got ${options.rate}`);
    this.rate = options.rate;
    this.burst = options.burst ?? Math.max(64 * 1024, options.rate / 10);
    this.clock = options.clock ?? realClock;
    this.tokens = this.burst;
    this.last = this.clock.now();
  }

  /** Resolves once `bytes` may be sent. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.takeNow(bytes, signal));
    // A failed (aborted) take must not block those queued behind it.
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** How long a take of `bytes` would wait now, in ms (0 when tokens suffice). */
  delayFor(bytes: number): number {
    this.refill();
    const need = Math.min(bytes, this.burst);
    return this.tokens >= need ? 0 : ((need - this.tokens) / this.rate) * 1000;
  }

  private async takeNow(bytes: number, signal?: AbortSignal): Promise<void> {
    const wait = this.delayFor(bytes);
    if (wait > 0) {
      await this.clock.sleep(wait, signal);
      this.refill();
    }
    this.tokens -= bytes;
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

import { setTimeout as sleepMs } from "node:timers/promises";
import type { Readable } from "node:stream";
import { compareKeys } from "./key.js";
import type {
  ByteRange,
  ListEntry,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  PutResult,
  PutSource,
  RefValue,
  RefWriteOptions,
} from "./object-store.js";
import { isTransientError } from "./transient.js";

export interface RetryOptions {
  /** Retries after the first attempt. Default 5. */
  readonly retries?: number;
  /** Delay cap of the first retry; doubles each retry up to maxDelayMs. Default 100 ms. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Source of jitter in [0, 1). Default Math.random. */
  readonly random?: () => number;
  /** How to wait. Default a timer; tests pass one that does not wait. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called before each retry (for logs and metrics). */
  readonly onRetry?: (event: RetryEvent) => void;
}

export interface RetryEvent {
  readonly operation: string;
  readonly key: string;
  /** 1 for the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

/**
 * A store that retries the calls of another when they fail transiently
 * (isTransientError: timeouts, resets, 5xx, throttling), with exponential
 * backoff and full jitter, so that many workers hitting one sick service do
 * not retry in lockstep. Final errors pass through at once.
 *
 * What a retry can and cannot do:
 * - put with a buffer is retried; put with a stream is not (a stream cannot
 *   be rewound). A put whose first attempt landed before failing reports
 *   created: false on the retry.
 * - list resumes after the last key it yielded (listings are in key order),
 *   so a retry never yields a key twice.
 * - getStream retries opening the stream, not errors in mid-stream.
 * - putRef/deleteRef with `expect` whose first attempt landed report
 *   RefConflictError on the retry, naming the version the first attempt wrote.
 */
export class RetryStore implements ObjectStore {
  readonly location: string;
  readonly capabilities: ObjectStore["capabilities"];
  readonly sweepTemporary?: ObjectStore["sweepTemporary"];
  private readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly onRetry: ((event: RetryEvent) => void) | undefined;

  constructor(
    readonly inner: ObjectStore,
    options: RetryOptions = {},
  ) {
    this.location = inner.location;
    this.capabilities = inner.capabilities;
    // Forwarded only where the backend has temporary files: its absence is how callers tell.
    if (inner.sweepTemporary !== undefined) {
      const sweep = inner.sweepTemporary.bind(inner);
      this.sweepTemporary = (olderThanMs, options) => sweep(olderThanMs, options);
    }
    this.retries = options.retries ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => sleepMs(ms).then(() => undefined));
    this.onRetry = options.onRetry;
  }

  put(key: string, data: PutSource, options?: PutOptions): Promise<PutResult> {
    if (!(data instanceof Uint8Array)) return this.inner.put(key, data, options);
    return this.attempt("put", key, () => this.inner.put(key, data, options));
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    return this.attempt("get", key, () => this.inner.get(key, range));
  }

  getStream(key: string, range?: ByteRange): Promise<Readable> {
    return this.attempt("getStream", key, () => this.inner.getStream(key, range));
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.attempt("head", key, () => this.inner.head(key));
  }

  list(prefix: string): AsyncIterable<ListEntry> {
    return this.listFrom(prefix, (p) => this.inner.list(p));
  }

  delete(key: string): Promise<void> {
    return this.attempt("delete", key, () => this.inner.delete(key));
  }

  getRef(name: string): Promise<RefValue | undefined> {
    return this.attempt("getRef", name, () => this.inner.getRef(name));
  }

  putRef(name: string, data: Uint8Array, options?: RefWriteOptions): Promise<{ version: string }> {
    return this.attempt("putRef", name, () => this.inner.putRef(name, data, options));
  }

  deleteRef(name: string, options?: RefWriteOptions): Promise<void> {
    return this.attempt("deleteRef", name, () => this.inner.deleteRef(name, options));
  }

  listRefs(prefix: string): AsyncIterable<ListEntry> {
    return this.listFrom(prefix, (p) => this.inner.listRefs(p));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async attempt<T>(operation: string, key: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        if (attempt >= this.retries || !isTransientError(error)) throw error;
        await this.backoff(operation, key, attempt + 1, error);
      }
    }
  }

  private async backoff(operation: string, key: string, attempt: number, error: unknown): Promise<void> {
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    const delayMs = Math.floor(this.random() * cap);
    this.onRetry?.({ operation, key, attempt, delayMs, error });
    await this.sleep(delayMs);
  }

  private async *listFrom(
    prefix: string,
    open: (prefix: string) => AsyncIterable<ListEntry>,
  ): AsyncIterable<ListEntry> {
    let last: string | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        for await (const entry of open(prefix)) {
          if (last !== undefined && compareKeys(entry.key, last) <= 0) continue;
          last = entry.key;
          yield entry;
        }
        return;
      } catch (error) {
        if (attempt >= this.retries || !isTransientError(error)) throw error;
        await this.backoff("list", prefix, attempt + 1, error);
      }
    }
  }
}

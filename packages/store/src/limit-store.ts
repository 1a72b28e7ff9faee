import type { Readable } from "node:stream";
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

/** A counting semaphore: at most `limit` holders at once, waiters served in arrival order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter so no newcomer can jump the queue.
      if (next !== undefined) next();
      else this.active--;
    }
  }
}

/**
 * A store that lets at most `limit` calls of another run at once, so a busy
 * worker cannot open hundreds of connections or file handles. A list holds
 * a slot while it fetches each entry, not between entries; getStream holds
 * one while opening the stream, not while the caller reads it.
 */
export class LimitStore implements ObjectStore {
  readonly location: string;
  readonly capabilities: ObjectStore["capabilities"];
  readonly sweepTemporary?: ObjectStore["sweepTemporary"];
  private readonly semaphore: Semaphore;

  constructor(
    readonly inner: ObjectStore,
    limit: number,
  ) {
    this.location = inner.location;
    this.capabilities = inner.capabilities;
    // Forwarded only where the backend has temporary files: its absence is how callers tell.
    if (inner.sweepTemporary !== undefined) {
      const sweep = inner.sweepTemporary.bind(inner);
      this.sweepTemporary = (olderThanMs, options) => sweep(olderThanMs, options);
    }
    this.semaphore = new Semaphore(limit);
  }

  put(key: string, data: PutSource, options?: PutOptions): Promise<PutResult> {
    return this.semaphore.run(() => this.inner.put(key, data, options));
  }
  get(key: string, range?: ByteRange): Promise<Buffer> {
    return this.semaphore.run(() => this.inner.get(key, range));
  }
  getStream(key: string, range?: ByteRange): Promise<Readable> {
    return this.semaphore.run(() => this.inner.getStream(key, range));
  }
  head(key: string): Promise<ObjectInfo | undefined> {
    return this.semaphore.run(() => this.inner.head(key));
  }
  list(prefix: string): AsyncIterable<ListEntry> {
    return this.limited(this.inner.list(prefix));
  }
  delete(key: string): Promise<void> {
    return this.semaphore.run(() => this.inner.delete(key));
  }
  getRef(name: string): Promise<RefValue | undefined> {
    return this.semaphore.run(() => this.inner.getRef(name));
  }
  putRef(name: string, data: Uint8Array, options?: RefWriteOptions): Promise<{ version: string }> {
    return this.semaphore.run(() => this.inner.putRef(name, data, options));
  }
  deleteRef(name: string, options?: RefWriteOptions): Promise<void> {
    return this.semaphore.run(() => this.inner.deleteRef(name, options));
  }
  listRefs(prefix: string): AsyncIterable<ListEntry> {
    return this.limited(this.inner.listRefs(prefix));
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  private async *limited(source: AsyncIterable<ListEntry>): AsyncIterable<ListEntry> {
    const iterator = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await this.semaphore.run(() => iterator.next());
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  }
}

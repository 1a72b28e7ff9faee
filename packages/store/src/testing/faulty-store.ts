import type { Readable } from "node:stream";
import { StoreUnavailableError } from "../errors.js";
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
} from "../object-store.js";

export type StoreOperation =
  | "put"
  | "get"
  | "getStream"
  | "head"
  | "list"
  | "delete"
  | "getRef"
  | "putRef"
  | "deleteRef"
  | "listRefs";

interface Fault {
  remaining: number;
  makeError: () => unknown;
  /** For list operations: entries yielded before failing. */
  afterEntries: number;
}

/**
 * A store that passes every call to another store, except the ones it has
 * been told to fail: for tests of retries and of what callers do when
 * storage misbehaves (the chaos suite). Faults are planned, not random, so
 * a test says exactly what happens.
 */
export class FaultyStore implements ObjectStore {
  readonly location: string;
  readonly capabilities: ObjectStore["capabilities"];
  /** How many times each operation was called (failed calls included). */
  readonly calls: Record<StoreOperation, number> = {
    put: 0,
    get: 0,
    getStream: 0,
    head: 0,
    list: 0,
    delete: 0,
    getRef: 0,
    putRef: 0,
    deleteRef: 0,
    listRefs: 0,
  };
  private readonly faults = new Map<StoreOperation, Fault>();

  constructor(readonly inner: ObjectStore) {
    this.location = `faulty:${inner.location}`;
    this.capabilities = inner.capabilities;
  }

  /**
   * The next `count` calls of `operation` fail with `makeError()` (default:
   * a transient StoreUnavailableError). For list/listRefs, each failing call
   * first yields `afterEntries` entries.
   */
  failNext(operation: StoreOperation, count: number, makeError?: () => unknown, afterEntries = 0): this {
    this.faults.set(operation, {
      remaining: count,
      makeError: makeError ?? (() => new StoreUnavailableError(operation, undefined, "injected fault")),
      afterEntries,
    });
    return this;
  }

  put(key: string, data: PutSource, options?: PutOptions): Promise<PutResult> {
    return this.call("put", () => this.inner.put(key, data, options));
  }
  get(key: string, range?: ByteRange): Promise<Buffer> {
    return this.call("get", () => this.inner.get(key, range));
  }
  getStream(key: string, range?: ByteRange): Promise<Readable> {
    return this.call("getStream", () => this.inner.getStream(key, range));
  }
  head(key: string): Promise<ObjectInfo | undefined> {
    return this.call("head", () => this.inner.head(key));
  }
  list(prefix: string): AsyncIterable<ListEntry> {
    return this.listCall("list", () => this.inner.list(prefix));
  }
  delete(key: string): Promise<void> {
    return this.call("delete", () => this.inner.delete(key));
  }
  getRef(name: string): Promise<RefValue | undefined> {
    return this.call("getRef", () => this.inner.getRef(name));
  }
  putRef(name: string, data: Uint8Array, options?: RefWriteOptions): Promise<{ version: string }> {
    return this.call("putRef", () => this.inner.putRef(name, data, options));
  }
  deleteRef(name: string, options?: RefWriteOptions): Promise<void> {
    return this.call("deleteRef", () => this.inner.deleteRef(name, options));
  }
  listRefs(prefix: string): AsyncIterable<ListEntry> {
    return this.listCall("listRefs", () => this.inner.listRefs(prefix));
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  /** The fault to apply to this call, if any (and uses it up). */
  private take(operation: StoreOperation): Fault | undefined {
    this.calls[operation]++;
    const fault = this.faults.get(operation);
    if (fault === undefined || fault.remaining <= 0) return undefined;
    fault.remaining--;
    return fault;
  }

  private async call<T>(operation: StoreOperation, fn: () => Promise<T>): Promise<T> {
    const fault = this.take(operation);
    if (fault !== undefined) throw fault.makeError();
    return fn();
  }

  private async *listCall(operation: StoreOperation, fn: () => AsyncIterable<ListEntry>): AsyncIterable<ListEntry> {
    const fault = this.take(operation);
    let yielded = 0;
    for await (const entry of fn()) {
      if (fault !== undefined && yielded === fault.afterEntries) throw fault.makeError();
      yield entry;
      yielded++;
    }
    if (fault !== undefined) throw fault.makeError();
  }
}

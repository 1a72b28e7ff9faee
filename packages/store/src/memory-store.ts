import { Readable } from "node:stream";
import { ObjectNotFoundError, RefConflictError } from "./errors.js";
import { compareKeys, REFS_PREFIX, refKey, validateKey, validateObjectKey, validatePrefix } from "./key.js";
import type {
  ByteRange,
  ListEntry,
  ObjectInfo,
  ObjectStore,
  PutResult,
  PutSource,
  RefValue,
  RefWriteOptions,
} from "./object-store.js";
import { clampRange, validateRange } from "./range.js";
import { refVersion } from "./ref-version.js";
import { collectSource } from "./source.js";

interface Stored {
  readonly data: Buffer;
  readonly mtime: Date;
}

/**
 * An ObjectStore in process memory: for tests and for short-lived tools that
 * need a store without touching disk. Passes the full conformance suite,
 * including exclusive create and atomic refs (JavaScript runs each
 * synchronous section alone, and every check-then-write here is synchronous).
 */
export class MemoryStore implements ObjectStore {
  readonly location = "memory:";
  readonly capabilities = { exclusiveCreate: true, atomicRefs: true } as const;
  private readonly objects = new Map<string, Stored>();

  async put(key: string, data: PutSource): Promise<PutResult> {
    validateObjectKey(key);
    if (this.objects.has(key)) return { created: false };
    const bytes = Buffer.from(await collectSource(data));
    if (this.objects.has(key)) return { created: false };
    this.objects.set(key, { data: bytes, mtime: new Date() });
    return { created: true };
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    validateKey(key);
    validateRange(key, range);
    const stored = this.objects.get(key);
    if (stored === undefined) throw new ObjectNotFoundError(key);
    const { start, end } = clampRange(range, stored.data.length);
    return Buffer.from(stored.data.subarray(start, end));
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    return Readable.from([await this.get(key, range)]);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    validateKey(key);
    const stored = this.objects.get(key);
    return stored === undefined ? undefined : { size: stored.data.length, mtime: stored.mtime };
  }

  async *list(prefix: string): AsyncIterable<ListEntry> {
    validatePrefix(prefix);
    // A snapshot of the matching keys only; the entries are looked up as we go.
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
    for (const key of keys) {
      const stored = this.objects.get(key);
      if (stored !== undefined) yield { key, size: stored.data.length, mtime: stored.mtime };
    }
  }

  async delete(key: string): Promise<void> {
    validateObjectKey(key);
    this.objects.delete(key);
  }

  async getRef(name: string): Promise<RefValue | undefined> {
    const stored = this.objects.get(refKey(name));
    return stored === undefined ? undefined : { data: Buffer.from(stored.data), version: refVersion(stored.data) };
  }

  async putRef(name: string, data: Uint8Array, options?: RefWriteOptions): Promise<{ version: string }> {
    const key = refKey(name);
    this.checkExpect(name, key, options);
    const bytes = Buffer.from(data);
    this.objects.set(key, { data: bytes, mtime: new Date() });
    return { version: refVersion(bytes) };
  }

  async deleteRef(name: string, options?: RefWriteOptions): Promise<void> {
    const key = refKey(name);
    this.checkExpect(name, key, options);
    this.objects.delete(key);
  }

  async *listRefs(prefix: string): AsyncIterable<ListEntry> {
    validatePrefix(prefix);
    for await (const entry of this.list(REFS_PREFIX + prefix))
      yield { ...entry, key: entry.key.slice(REFS_PREFIX.length) };
  }

  async close(): Promise<void> {}

  private checkExpect(name: string, key: string, options: RefWriteOptions | undefined): void {
    if (options?.expect === undefined) return;
    const stored = this.objects.get(key);
    const actual = stored === undefined ? null : refVersion(stored.data);
    if (actual !== options.expect) throw new RefConflictError(name, options.expect, actual);
  }
}

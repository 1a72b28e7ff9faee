import type { Readable } from "node:stream";

/**
 * ObjectStore: the only interface to storage. Every backend (filesystem,
 * S3, memory) and every wrapper (retry, limit) implements it completely and
 * passes the conformance suite in `@xenfleet/store/testing`.
 *
 * Two kinds of things live in a store:
 * - Objects: immutable byte strings named by a key (see key.ts). Most keys
 *   are content-addressed (the key is derived from the hash of the bytes), so
 *   a put of a key that exists is skipped, never an overwrite. This is what
 *   makes retries and dedup free: writing the same object twice is harmless.
 * - Refs: small mutable named values (domain -> latest image) under the
 *   reserved "refs/" key prefix, replaced atomically and optionally
 *   conditionally (compare-and-swap on a version string).
 *
 * "Exists" means a complete object is visible under the key: backends never
 * expose a partially written object (the filesystem backend renames a synced
 * temp file into place; S3 makes an object visible only when its upload
 * completes).
 *
 * All methods reject with typed errors: ObjectNotFoundError (names the key),
 * InvalidKeyError, InvalidRangeError, StoreUnavailableError (transient,
 * retried by RetryStore), StoreRequestError (refused, not retried),
 * RefConflictError (lost compare-and-swap).
 */
export interface ObjectStore {
  /** Where this store is, for logs and messages. Never contains credentials. */
  readonly location: string;

  /** What this backend guarantees beyond the base contract. */
  readonly capabilities: StoreCapabilities;

  /**
   * Stores `data` under `key` unless the key already exists.
   *
   * Idempotent: if the key exists, nothing is written, existing bytes are
   * left untouched, and `created` is false. An iterable source is then not
   * read at all (the caller owns it). `created: true` means this call wrote
   * the bytes. Without `capabilities.exclusiveCreate`, two racing puts of a
   * missing key may both write and both report true; since keys are content
   * addresses, both wrote the same bytes and the race is harmless.
   *
   * Keys under "refs/" are refused (InvalidKeyError): use putRef.
   *
   * The store keeps no reference to `data` and reads none of it once the
   * returned promise settles, however it settled: the caller may then reuse
   * the buffer (pack writers do).
   */
  put(key: string, data: PutSource, options?: PutOptions): Promise<PutResult>;

  /**
   * Reads the whole object, or the bytes [offset, offset + length) of it.
   *
   * A short read means the object ends there: the result holds the bytes
   * from `offset` to the end of the object, and is empty when `offset` is at
   * or past the end. A reader that needed the full range treats a short
   * read as truncation (CorruptObjectError). `length` omitted reads to the
   * end. Rejects with ObjectNotFoundError if the key does not exist.
   */
  get(key: string, range?: ByteRange): Promise<Buffer>;

  /**
   * Like get, as a stream, for objects too large to hold in memory. Rejects
   * (before any byte) with ObjectNotFoundError if the key does not exist;
   * errors after that arrive on the stream and are not retried by wrappers.
   */
  getStream(key: string, range?: ByteRange): Promise<Readable>;

  /** Size (and modification time) of the object, or undefined if it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;

  /**
   * Every object whose key starts with `prefix` (plain string prefix; ""
   * lists everything, refs included), in ascending key order, fetched a page
   * at a time: never the whole listing in memory. Objects written or deleted
   * during the listing may or may not appear.
   */
  list(prefix: string): AsyncIterable<ListEntry>;

  /** Removes the object. Idempotent: deleting a missing key succeeds. Keys under "refs/" are refused. */
  delete(key: string): Promise<void>;

  /** The ref's current value and version, or undefined if it does not exist. */
  getRef(name: string): Promise<RefValue | undefined>;

  /**
   * Replaces the ref atomically: a reader sees the old value or the new one,
   * never a mix. With `expect`, the write happens only if the ref's current
   * version is `expect` (or, with `expect: null`, only if the ref does not
   * exist); otherwise RefConflictError. This compare-and-swap is atomic
   * only where `capabilities.atomicRefs` is true; elsewhere it is checked by
   * reading first, and two racing writers may both succeed (last writer wins).
   */
  putRef(name: string, data: Uint8Array, options?: RefWriteOptions): Promise<{ version: string }>;

  /** Removes the ref; with `expect`, only if its version matches (as putRef). Deleting a missing ref without `expect` succeeds. */
  deleteRef(name: string, options?: RefWriteOptions): Promise<void>;

  /** Every ref whose name starts with `prefix`, in ascending name order; `key` holds the ref name (without "refs/"). */
  listRefs(prefix: string): AsyncIterable<ListEntry>;

  /**
   * Backends that stage writes in temporary files (the filesystem) remove
   * those last modified more than `olderThanMs` ago whose writer is gone:
   * debris of writers that were killed mid-put. A writer that still runs
   * may be mid-put, so its files are left for a day whatever the period.
   * Backends without temporary files do not have the method.
   */
  sweepTemporary?(olderThanMs: number, options?: { dryRun?: boolean }): Promise<SweptTemporary>;

  /** Releases connections and handles. The store is not used afterwards. */
  close(): Promise<void>;
}

export interface SweptTemporary {
  readonly files: number;
  readonly bytes: number;
}

export interface StoreCapabilities {
  /** put of a missing key by racing callers reports created: true to exactly one of them. */
  readonly exclusiveCreate: boolean;
  /** putRef/deleteRef with `expect` are atomic compare-and-swap operations. */
  readonly atomicRefs: boolean;
}

/** Bytes to store: a buffer, or an (async) iterable of chunks such as a Node Readable. */
export type PutSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface PutResult {
  /** True if this call wrote the object, false if the key already existed. */
  readonly created: boolean;
}

export interface ByteRange {
  readonly offset: number;
  /** Omitted: to the end of the object. */
  readonly length?: number;
}

export interface ObjectInfo {
  readonly size: number;
  readonly mtime: Date;
}

export interface ListEntry extends ObjectInfo {
  readonly key: string;
}

export interface RefValue {
  readonly data: Buffer;
  /** Opaque; changes whenever the value changes. Pass it back as `expect`. */
  readonly version: string;
}

export interface RefWriteOptions {
  /** The version the ref must have now, or null for "must not exist". Omitted: unconditional. */
  readonly expect?: string | null;
}

export interface PutOptions {
  /**
   * false: a backend may skip its syncs, so after a crash the object may be
   * missing, or (if not empty) hold fewer bytes. Only for advisory objects
   * whose loss costs efficiency, not correctness (the empty dedup hooks).
   * Default true.
   */
  durable?: boolean;
}

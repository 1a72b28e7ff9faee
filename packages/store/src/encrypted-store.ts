import { Readable } from "node:stream";
import {
  InvalidKeyError,
  NotEncryptedObjectError,
  ObjectAuthenticationError,
  ObjectMovedError,
  ObjectNotFoundError,
  RefConflictError,
} from "./errors.js";
import { REFS_PREFIX, refKey, validateKey, validateObjectKey, validatePrefix } from "./key.js";
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
import { validateRange } from "./range.js";
import { sourceChunks } from "./source.js";
import {
  HEADER_BYTES,
  type Header,
  MAGIC,
  SEALED_SEGMENT_BYTES,
  SEGMENT_BYTES,
  nameDigest,
  newHeader,
  objectKey,
  openSegment,
  parseHeader,
  plainSize,
  sealSegment,
  sealSegmentInto,
  sealedSize,
  segmentCount,
  segmentOffset,
} from "./encryption/format.js";
import { deriveStoreKeys, type StoreKeys } from "./encryption/keys.js";
import { NameCipher } from "./encryption/names.js";

/**
 * Names in the inner store that belong to the key hierarchy, not to this
 * store's namespace: the unencrypted store header and the wrapped keys.
 * They are written to the inner store directly; this store refuses them as
 * keys and leaves them out of its listings.
 */
export const STORE_HEADER_NAME = "xenfleet-store.json";
export const WRAPPED_KEYS_PREFIX = "keys/";

export function isKeyHierarchyName(name: string): boolean {
  return name === STORE_HEADER_NAME || name.startsWith(WRAPPED_KEYS_PREFIX);
}

/**
 * An ObjectStore that encrypts everything it holds in another one, client
 * side, with authenticated encryption (format in encryption/format.ts),
 * and stores it under names that reveal no content digest
 * (encryption/names.ts). The inner store sees object sizes and counts,
 * modification times, and the kinds of names (packs/, hooks/, refs/...),
 * nothing else.
 *
 * Sizes reported by head and list are plaintext sizes, and range reads
 * fetch only the segments that cover the range, so pack entries are read
 * alone as before.
 *
 * One departure from the ObjectStore contract: names holding permuted
 * segments (content ids, hooks) are listed in the order of their stored
 * names, which is not the order of the names themselves; ordering them
 * would mean holding a whole listing in memory. No caller depends on that
 * order, but RetryStore's resumed listings do: wrap EncryptedStore around
 * RetryStore (as around any backend), never the other way.
 */
export class EncryptedStore implements ObjectStore {
  readonly location: string;
  readonly capabilities: ObjectStore["capabilities"];
  readonly sweepTemporary?: ObjectStore["sweepTemporary"];
  /** The master key's public fingerprint (masterKeyId), recorded in every object header. */
  readonly keyId: string;
  // ES private fields: a logger or inspector that prints the store never reaches a key.
  readonly #keys: StoreKeys;
  readonly #names: NameCipher;

  constructor(
    readonly inner: ObjectStore,
    masterKey: Uint8Array,
  ) {
    this.#keys = deriveStoreKeys(masterKey);
    this.#names = new NameCipher(this.#keys.names);
    this.keyId = this.#keys.keyId.toString("hex");
    this.location = `${inner.location} (encrypted)`;
    this.capabilities = inner.capabilities;
    if (inner.sweepTemporary !== undefined) {
      const sweep = inner.sweepTemporary.bind(inner);
      this.sweepTemporary = (olderThanMs, options) => sweep(olderThanMs, options);
    }
  }

  async put(key: string, data: PutSource, options?: PutOptions): Promise<PutResult> {
    const stored = this.storedName(validateObjectKey(key));
    // A buffer is sealed into a buffer, so that a RetryStore inside can retry the put.
    const sealed = data instanceof Uint8Array ? this.sealBuffer(stored, data) : this.sealChunks(stored, data);
    return this.inner.put(stored, sealed, options);
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.open(key, range, (stored, r) => this.inner.get(stored, r).then((b) => [b])))
      chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    return Readable.from(await this.open(key, range, (stored, r) => this.inner.getStream(stored, r)));
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const stored = this.storedName(validateKey(key));
    const info = await this.inner.head(stored);
    return info === undefined ? undefined : { size: await this.plainSizeOf(key, stored, info.size), mtime: info.mtime };
  }

  async *list(prefix: string): AsyncIterable<ListEntry> {
    validatePrefix(prefix);
    for await (const entry of this.inner.list(this.#names.storedPrefix(prefix))) {
      if (isKeyHierarchyName(entry.key)) continue;
      const key = this.#names.decode(entry.key);
      if (!key.startsWith(prefix)) continue;
      yield { key, size: await this.plainSizeOf(key, entry.key, entry.size), mtime: entry.mtime };
    }
  }

  async delete(key: string): Promise<void> {
    await this.inner.delete(this.storedName(validateObjectKey(key)));
  }

  async getRef(name: string): Promise<RefValue | undefined> {
    const key = refKey(name);
    const storedName = this.#names.encode(name);
    const value = await this.inner.getRef(storedName);
    if (value === undefined) return undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of this.openSealed(
      key,
      REFS_PREFIX + storedName,
      undefined,
      toChunks(value.data),
      0,
      Number.POSITIVE_INFINITY,
    ))
      chunks.push(chunk);
    return { data: Buffer.concat(chunks), version: value.version };
  }

  async putRef(name: string, data: Uint8Array, options?: RefWriteOptions): Promise<{ version: string }> {
    refKey(name);
    const storedName = this.#names.encode(name);
    const sealed = this.sealBuffer(REFS_PREFIX + storedName, data);
    return this.inner.putRef(storedName, sealed, options).catch((error: unknown) => {
      throw renameConflict(error, name);
    });
  }

  async deleteRef(name: string, options?: RefWriteOptions): Promise<void> {
    refKey(name);
    await this.inner.deleteRef(this.#names.encode(name), options).catch((error: unknown) => {
      throw renameConflict(error, name);
    });
  }

  async *listRefs(prefix: string): AsyncIterable<ListEntry> {
    validatePrefix(prefix);
    for await (const entry of this.inner.listRefs(this.#names.storedPrefix(prefix))) {
      const name = this.#names.decode(entry.key);
      if (!name.startsWith(prefix)) continue;
      const size = await this.plainSizeOf(REFS_PREFIX + name, REFS_PREFIX + entry.key, entry.size);
      yield { key: name, size, mtime: entry.mtime };
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private storedName(key: string): string {
    if (isKeyHierarchyName(key)) throw new InvalidKeyError(key, "reserved for the store's key hierarchy");
    return this.#names.encode(key);
  }

  private sealBuffer(stored: string, data: Uint8Array): Buffer {
    const header = newHeader(this.#keys, stored);
    const key = objectKey(this.#keys, header);
    const count = segmentCount(data.length);
    const out = Buffer.allocUnsafe(sealedSize(data.length));
    header.bytes.copy(out, 0);
    let at = HEADER_BYTES;
    for (let i = 0; i < count; i++) {
      const plain = data.subarray(i * SEGMENT_BYTES, (i + 1) * SEGMENT_BYTES);
      at += sealSegmentInto(out, at, key, header, i, i === count - 1, plain);
    }
    return out;
  }

  /** Seals a stream of chunks segment by segment; a full segment waits until it is known whether more follows. */
  private async *sealChunks(stored: string, source: PutSource): AsyncIterable<Uint8Array> {
    const header = newHeader(this.#keys, stored);
    const key = objectKey(this.#keys, header);
    yield header.bytes;
    const pending = new Chunks();
    let full: Buffer | undefined;
    let index = 0;
    for await (const chunk of sourceChunks(source)) {
      // Copied: the caller may reuse its buffer once it has handed it over.
      pending.push(Buffer.from(chunk));
      while (pending.bytes >= SEGMENT_BYTES) {
        if (full !== undefined) yield sealSegment(key, header, index++, false, full);
        full = pending.take(SEGMENT_BYTES);
      }
    }
    if (full !== undefined && pending.bytes > 0) yield sealSegment(key, header, index++, false, full);
    yield sealSegment(
      key,
      header,
      index,
      true,
      pending.bytes > 0 || full === undefined ? pending.take(pending.bytes) : full,
    );
  }

  /**
   * The plaintext of `key` (or of `range` of it), as chunks. Only the
   * segments covering the range are fetched; with a range starting past
   * segment 0 the header is fetched beside them. One byte past the last
   * wanted segment is asked for: whether it comes says if that segment is
   * the object's last, which its nonce must then state.
   */
  private async open(
    key: string,
    range: ByteRange | undefined,
    fetch: (stored: string, range: ByteRange | undefined) => Promise<AsyncIterable<Buffer> | Iterable<Buffer>>,
  ): Promise<AsyncIterable<Buffer>> {
    const stored = this.storedName(validateKey(key));
    validateRange(key, range);
    const notFound = (error: unknown) => {
      throw error instanceof ObjectNotFoundError ? new ObjectNotFoundError(key, { cause: error }) : error;
    };
    if (range === undefined) {
      const body = await fetch(stored, undefined).catch(notFound);
      return this.openSealed(key, stored, undefined, body, 0, Number.POSITIVE_INFINITY);
    }
    const first = Math.floor(range.offset / SEGMENT_BYTES);
    const wanted =
      range.length === undefined
        ? Number.POSITIVE_INFINITY
        : Math.max(1, Math.ceil((range.offset + range.length) / SEGMENT_BYTES) - first);
    const bodyRange = (from: number) => ({
      offset: from,
      length: wanted === Number.POSITIVE_INFINITY ? undefined : segmentOffset(first + wanted) - from + 1,
    });
    let plain: AsyncIterable<Buffer>;
    if (first === 0) {
      const body = await fetch(stored, bodyRange(0)).catch(notFound);
      plain = this.openSealed(key, stored, undefined, body, 0, wanted);
    } else {
      const [head, body] = await Promise.all([
        this.inner.get(stored, { offset: 0, length: HEADER_BYTES }),
        fetch(stored, bodyRange(segmentOffset(first))),
      ]).catch(notFound);
      plain = this.openSealed(key, stored, this.checkHeader(key, stored, head), body, first, wanted);
    }
    return slice(plain, range.offset - first * SEGMENT_BYTES, range.length ?? Number.POSITIVE_INFINITY);
  }

  /**
   * Opens sealed segments `first`.. (at most `wanted` of them) from the
   * stored bytes that hold them, preceded by the header when `header` is
   * undefined. A segment is opened as the object's last when no byte
   * follows it.
   */
  private async *openSealed(
    key: string,
    stored: string,
    header: Header | undefined,
    body: AsyncIterable<Buffer> | Iterable<Buffer>,
    first: number,
    wanted: number,
  ): AsyncGenerator<Buffer> {
    const pending = new Chunks();
    let opener: SegmentOpener | undefined = header === undefined ? undefined : this.opener(key, stored, header);
    let opened = 0;
    for await (const chunk of body) {
      pending.push(chunk);
      if (opener === undefined) {
        if (pending.bytes < HEADER_BYTES) continue;
        opener = this.opener(key, stored, this.checkHeader(key, stored, pending.take(HEADER_BYTES)));
      }
      while (pending.bytes > SEALED_SEGMENT_BYTES && opened < wanted) {
        yield opener.open(first + opened++, false, pending.take(SEALED_SEGMENT_BYTES));
      }
      if (opened === wanted) return;
    }
    if (opener === undefined) throw this.headerError(key, stored, pending.take(pending.bytes));
    if (pending.bytes > 0) yield opener.open(first + opened, true, pending.take(pending.bytes));
    else if (opened === 0) await this.confirmEnd(key, stored, opener, first);
  }

  /**
   * A range starting at or past the end of the object got no segment: the
   * object's last segment is opened (as last) to prove the end is genuine
   * and not a cut.
   */
  private async confirmEnd(key: string, stored: string, opener: SegmentOpener, first: number): Promise<void> {
    const info = await this.inner.head(stored);
    if (info === undefined) throw new ObjectNotFoundError(key);
    const last = segmentCount(await this.plainSizeOf(key, stored, info.size)) - 1;
    if (last >= first) throw new ObjectAuthenticationError(key, "the object is shorter than its size says");
    opener.open(last, true, await this.inner.get(stored, { offset: segmentOffset(last) }));
  }

  private checkHeader(key: string, stored: string, bytes: Buffer): Header {
    const header = parseHeader(bytes);
    if (header === undefined) throw this.headerError(key, stored, bytes);
    if (!header.keyId.equals(this.#keys.keyId)) {
      throw new ObjectAuthenticationError(
        key,
        `written under another key (key id ${header.keyId.toString("hex")}; this key's is ${this.#keys.keyId.toString("hex")})`,
        true,
      );
    }
    return header;
  }

  private headerError(key: string, stored: string, bytes: Buffer): Error {
    if (!bytes.subarray(0, MAGIC.length).equals(MAGIC.subarray(0, Math.min(bytes.length, MAGIC.length))))
      return new NotEncryptedObjectError(key, "it does not start with the encrypted format's magic");
    return new ObjectAuthenticationError(key, `cut short in its header (${bytes.length} bytes at ${stored})`);
  }

  /** Opens segments of one object; the first that authenticates settles whether the object was moved here. */
  private opener(key: string, stored: string, header: Header): SegmentOpener {
    const segmentKey = objectKey(this.#keys, header);
    const moved = !header.nameDigest.equals(nameDigest(stored));
    return {
      open: (index, last, sealed) => {
        const plain = openSegment(segmentKey, header, index, last, sealed);
        if (plain === undefined) {
          throw new ObjectAuthenticationError(
            key,
            `segment ${index} does not authenticate${last ? " as the last one" : ""}: bytes altered, cut or added`,
          );
        }
        if (moved) throw new ObjectMovedError(key);
        return plain;
      },
    };
  }

  private async plainSizeOf(key: string, stored: string, storedSize: number): Promise<number> {
    const size = plainSize(storedSize);
    if (size !== undefined) return size;
    const start = await this.inner.get(stored, { offset: 0, length: MAGIC.length });
    if (!start.equals(MAGIC))
      throw new NotEncryptedObjectError(key, "it does not start with the encrypted format's magic");
    throw new ObjectAuthenticationError(key, `its stored size (${storedSize} bytes) fits no encrypted object`);
  }
}

interface SegmentOpener {
  open(index: number, last: boolean, sealed: Buffer): Buffer;
}

function renameConflict(error: unknown, name: string): unknown {
  return error instanceof RefConflictError ? new RefConflictError(name, error.expected, error.actual) : error;
}

function* toChunks(data: Buffer): Iterable<Buffer> {
  yield data;
}

/** Bytes [skip, skip + take) of a stream of chunks. */
async function* slice(chunks: AsyncIterable<Buffer>, skip: number, take: number): AsyncGenerator<Buffer> {
  let toSkip = skip;
  let left = take;
  for await (const chunk of chunks) {
    if (left <= 0) return;
    const part = chunk.subarray(Math.min(toSkip, chunk.length), Math.min(chunk.length, toSkip + left));
    toSkip = Math.max(0, toSkip - chunk.length);
    left -= part.length;
    if (part.length > 0) yield part;
  }
}

/** A queue of byte chunks from which exact byte counts are taken. */
class Chunks {
  private parts: Buffer[] = [];
  bytes = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.bytes += chunk.length;
  }

  take(count: number): Buffer {
    const head = this.parts[0];
    // Most reads arrive as one large chunk: a view of it spares a copy (nothing here writes to chunks).
    if (head !== undefined && head.length >= count) {
      if (head.length === count) this.parts.shift();
      else this.parts[0] = head.subarray(count);
      this.bytes -= count;
      return head.subarray(0, count);
    }
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const part = this.parts[0]!;
      const n = Math.min(part.length, count - filled);
      part.copy(out, filled, 0, n);
      filled += n;
      if (n === part.length) this.parts.shift();
      else this.parts[0] = part.subarray(n);
    }
    this.bytes -= count;
    return out;
  }
}

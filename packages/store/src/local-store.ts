import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import { closeSync, constants, createReadStream, fstatSync, openSync, read, readSync } from "node:fs";
import { link, lstat, mkdir, open, readdir, realpath, rename, stat, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import {
  InvalidKeyError,
  ObjectNotFoundError,
  RefConflictError,
  StoreMissingError,
  StoreRequestError,
  StoreUnavailableError,
} from "./errors.js";
import { withFileLock } from "./file-lock.js";
import { REFS_PREFIX, compareKeys, refKey, validateKey, validateObjectKey, validatePrefix } from "./key.js";
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
  SweptTemporary,
} from "./object-store.js";
import { clampRange, validateRange } from "./range.js";
import { refVersion } from "./ref-version.js";
import { sourceChunks } from "./source.js";
import { isProcessRunning } from "@xenfleet/core";

/** Temp files and ref locks live in dot-directories, which no key can name (key.ts). */
const TMP_DIR = ".tmp";
const LOCK_DIR = ".locks";
/** Temporary files of a writer that still runs are swept only after this long (a leak, not a put in progress). */
const LIVE_WRITER_TMP_MS = 24 * 3600 * 1000;
/** Directories remembered as confined before the memory is cleared and checks start over. */
const MAX_CONFINED_DIRS = 65536;
/** Reads up to this many bytes are made on the calling thread (see get). */
const INLINE_READ_BYTES = 64 * 1024;

/**
 * The filesystem backend: each key is a file at <root>/<key>, so the key
 * layout's fan-out (contentKey: packs/ab/abcd...) is the directory fan-out.
 *
 * Writes: the bytes go to a temp file under <root>/.tmp, are fsynced, then
 * hard-linked to the final name. link() fails if the name exists, which
 * makes put-if-absent atomic (exclusiveCreate); the directory is then
 * fsynced so the new name survives a crash. A crash leaves at most a stray
 * temp file, never a partial object. An empty object is created in place
 * with O_EXCL instead (nothing in it can be partial). A put with
 * `durable: false` skips the syncs, of new directories too (see PutOptions).
 *
 * Refs are replaced by rename() of a synced temp file (atomic replace);
 * compare-and-swap holds a lock file in <root>/.locks (see file-lock.ts).
 *
 * Keys never escape the root: they are validated, and the resolved path is
 * checked to lie under the root. A key that is also a directory (a key "a"
 * when "a/b" exists) cannot be stored here and is refused with
 * InvalidKeyError; the store's own key layouts never do that.
 */
export class LocalStore implements ObjectStore {
  readonly capabilities = { exclusiveCreate: true, atomicRefs: true } as const;
  readonly location: string;
  private readonly inProcessLocks = new Map<string, Promise<unknown>>();
  /** Directories already found to lie under the root (see confine). */
  private readonly confinedDirs = new Set<string>();

  private constructor(
    readonly root: string,
    /** The root with symlinks resolved: where every key's directory must really be. */
    private readonly realRoot: string,
  ) {
    this.location = `file://${root}`;
  }

  /**
   * Opens the store at directory `root`, creating it if needed; with
   * `create: false`, only a directory that exists already (else
   * StoreMissingError, and nothing is made).
   */
  static async open(root: string, options: { create?: boolean } = {}): Promise<LocalStore> {
    const absolute = resolve(root);
    if (options.create === false) await mustBeDirectory(absolute);
    await mkdir(join(absolute, TMP_DIR), { recursive: true });
    await mkdir(join(absolute, LOCK_DIR), { recursive: true });
    return new LocalStore(absolute, await realpath(absolute));
  }

  async put(key: string, data: PutSource, options?: PutOptions): Promise<PutResult> {
    validateObjectKey(key);
    const durable = options?.durable !== false;
    const path = await this.writablePath("put", key, durable);
    if (data instanceof Uint8Array && data.length === 0) return this.putEmpty(key, path, durable);
    if (await this.isObject(key, path)) return { created: false };
    const tmp = await this.writeTemp("put", key, data, durable);
    try {
      try {
        await this.inKnownDir("put", key, path, durable, () => link(tmp, path));
      } catch (err) {
        const existing = await this.createClash(key, path, err);
        if (existing) return existing;
        const code = errnoOf(err);
        // Filesystems without hard links: rename (which replaces). The
        // existence check above keeps this to the rare race, where both
        // writers hold the same content-addressed bytes.
        if (code === "EPERM" || code === "ENOTSUP" || code === "ENOSYS") await rename(tmp, path);
        else throw mapFsError("put", key, err);
      }
      if (durable) await fsyncDir(dirname(path));
      return { created: true };
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /**
   * A create that found its path taken: the object itself (already stored,
   * which is no error for immutable content-addressed keys) or a key that
   * clashes with another's directory or parent. Anything else is undefined.
   */
  private async createClash(key: string, path: string, err: unknown): Promise<PutResult | undefined> {
    const code = errnoOf(err);
    if (code === "EEXIST") {
      if (await this.isObject(key, path)) return { created: false };
      throw new InvalidKeyError(key, "a directory of other keys has this name");
    }
    if (code === "ENOTDIR") throw new InvalidKeyError(key, "a parent segment is itself an object");
    return undefined;
  }

  /**
   * An empty object is created in place with O_EXCL: with no bytes there is
   * no partial object a crash could leave, so the temp file and link are not
   * needed (stores hold many empty marker objects, such as hooks).
   */
  private async putEmpty(key: string, path: string, durable: boolean): Promise<PutResult> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    let handle: FileHandle;
    try {
      handle = await this.inKnownDir("put", key, path, durable, () => open(path, flags, 0o644));
    } catch (err) {
      const existing = await this.createClash(key, path, err);
      if (existing) return existing;
      throw mapFsError("put", key, err);
    }
    await handle.close();
    if (durable) await fsyncDir(dirname(path));
    return { created: true };
  }

  /**
   * Small reads (page list blocks, manifests, hook-found blocks) are made on
   * the calling thread: from the page cache they take microseconds, while a
   * trip through the libuv pool queues behind whatever the pool is doing (on
   * an import: reading and hashing the stream, storing packs), which made
   * loading a parent's thousand blocks wait several times longer than the
   * reads themselves. Opening and the size check are such calls too
   * (openObject); larger reads go through the pool.
   */
  async get(key: string, range?: ByteRange): Promise<Buffer> {
    validateKey(key);
    validateRange(key, range);
    const { fd, size } = await this.openObject("get", key);
    try {
      const { start, end } = clampRange(range, size);
      // Not zeroed: only the bytes read are returned.
      const out = Buffer.allocUnsafe(end - start);
      let filled = 0;
      while (filled < out.length) {
        const length = out.length - filled;
        const bytesRead =
          out.length <= INLINE_READ_BYTES
            ? readSync(fd, out, filled, length, start + filled)
            : await readAsync(fd, out, filled, length, start + filled);
        if (bytesRead === 0) break; // the file shrank: impossible for immutable objects, but never loop forever
        filled += bytesRead;
      }
      return out.subarray(0, filled);
    } catch (err) {
      throw errnoOf(err) === undefined ? err : mapFsError("get", key, err);
    } finally {
      closeSync(fd);
    }
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    validateKey(key);
    validateRange(key, range);
    const { fd, size } = await this.openObject("get", key);
    const { start, end } = clampRange(range, size);
    if (end === start) {
      closeSync(fd);
      return Readable.from([]);
    }
    return createReadStream("", { fd, start, end: end - 1, autoClose: true });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    validateKey(key);
    const path = await this.confinedPath(key);
    try {
      // lstat: a symlink is not an object, wherever it points.
      const info = await lstat(path);
      return info.isFile() ? { size: info.size, mtime: info.mtime } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw mapFsError("head", key, err);
    }
  }

  async *list(prefix: string): AsyncIterable<ListEntry> {
    validatePrefix(prefix);
    // Start at the deepest directory the prefix names in full.
    const slash = prefix.lastIndexOf("/");
    const dirKey = slash < 0 ? "" : prefix.slice(0, slash + 1);
    const dir = dirKey === "" ? this.root : this.pathOf(dirKey.slice(0, -1));
    // A directory that does not exist holds nothing to list; finding that
    // out first spares resolving its ancestors (most prefixes listed while
    // importing, the hooks of new pages, name no directory yet).
    if (!(await exists(dir))) return;
    await this.confine(prefix, dir);
    yield* this.walk(dir, dirKey, prefix);
  }

  async delete(key: string): Promise<void> {
    validateObjectKey(key);
    const path = await this.confinedPath(key);
    try {
      await unlink(path);
    } catch (err) {
      // A directory under that name is not an object either: nothing to delete.
      if (isMissing(err) || errnoOf(err) === "EISDIR" || errnoOf(err) === "EPERM") return;
      throw mapFsError("delete", key, err);
    }
    await fsyncDir(dirname(path));
  }

  async getRef(name: string): Promise<RefValue | undefined> {
    const key = refKey(name);
    const data = await this.readIfPresent("getRef", key);
    return data === undefined ? undefined : { data, version: refVersion(data) };
  }

  async putRef(name: string, data: Uint8Array, options?: RefWriteOptions): Promise<{ version: string }> {
    const key = refKey(name);
    const path = await this.writablePath("putRef", key, true);
    return this.withRefLock(key, async () => {
      await this.checkExpect(name, key, options);
      const tmp = await this.writeTemp("putRef", key, data);
      try {
        await this.inKnownDir("putRef", key, path, true, () => rename(tmp, path)).catch((err) => {
          throw errnoOf(err) === "EISDIR" || errnoOf(err) === "ENOTDIR"
            ? new InvalidKeyError(key, "conflicts with another ref's path")
            : mapFsError("putRef", key, err);
        });
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
      await fsyncDir(dirname(path));
      return { version: refVersion(data) };
    });
  }

  async deleteRef(name: string, options?: RefWriteOptions): Promise<void> {
    const key = refKey(name);
    const path = await this.confinedPath(key);
    await this.withRefLock(key, async () => {
      await this.checkExpect(name, key, options);
      try {
        await unlink(path);
      } catch (err) {
        if (isMissing(err) || errnoOf(err) === "EISDIR") return;
        throw mapFsError("deleteRef", key, err);
      }
      await fsyncDir(dirname(path));
    });
  }

  async *listRefs(prefix: string): AsyncIterable<ListEntry> {
    validatePrefix(prefix);
    for await (const entry of this.list(REFS_PREFIX + prefix))
      yield { ...entry, key: entry.key.slice(REFS_PREFIX.length) };
  }

  async close(): Promise<void> {}

  async sweepTemporary(olderThanMs: number, options: { dryRun?: boolean } = {}): Promise<SweptTemporary> {
    const dir = join(this.root, TMP_DIR);
    const now = Date.now();
    let files = 0;
    let bytes = 0;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(dir, entry.name);
      const info = await lstat(path).catch(() => undefined);
      if (info === undefined) continue;
      const age = now - info.mtimeMs;
      if (age <= olderThanMs) continue;
      // A live writer (one not under the caller's lock, such as a lock or ref write) may be mid-put.
      if (age <= LIVE_WRITER_TMP_MS && writerRuns(entry.name)) continue;
      if (!options.dryRun) {
        // Gone already: its writer finished (or another sweep got there first).
        if (
          !(await unlink(path).then(
            () => true,
            () => false,
          ))
        )
          continue;
      }
      files++;
      bytes += info.size;
    }
    return { files, bytes };
  }

  /** The file of a key; refuses any path that would resolve outside the root. */
  private pathOf(key: string): string {
    validateKey(key);
    const path = resolve(this.root, ...key.split("/"));
    if (!path.startsWith(this.root + sep)) throw new InvalidKeyError(key, "resolves outside the store root");
    return path;
  }

  /**
   * The file of a key, after checking that the directory it would be in
   * really lies under the root: a symlink planted inside the store (a
   * directory link pointing elsewhere) must not carry reads, writes or
   * deletes out of it. The deepest existing ancestor is resolved, since the
   * key's own directories may not exist yet.
   */
  private async confinedPath(key: string): Promise<string> {
    const path = this.pathOf(key);
    await this.confine(key, dirname(path));
    return path;
  }

  /**
   * Refuses `start` (or its deepest existing ancestor) if it really lies
   * outside the root. A directory found inside is remembered, so objects
   * sharing a directory (a fan-out directory holds thousands) cost one
   * realpath(), not one each. So a symlink planted in place of a directory
   * this store has already used is not noticed until the store is reopened:
   * the check guards against links planted beforehand, as it always did
   * (a link swapped in between any check and the operation was never caught).
   */
  private async confine(key: string, start: string): Promise<void> {
    for (let dir = start; ; dir = dirname(dir)) {
      if (this.confinedDirs.has(dir)) return;
      let real: string;
      try {
        real = await realpath(dir);
      } catch (err) {
        if (isMissing(err) && dir !== this.root) continue;
        throw mapFsError("resolve", key, err);
      }
      if (real !== this.realRoot && !real.startsWith(this.realRoot + sep)) {
        throw new InvalidKeyError(key, "a directory on its path leads outside the store root");
      }
      // Only a directory found to exist is remembered: one not made yet may still be planted.
      this.remember(dir);
      return;
    }
  }

  private async isObject(key: string, path: string): Promise<boolean> {
    try {
      const info = await lstat(path);
      if (info.isFile()) return true;
      throw new InvalidKeyError(
        key,
        info.isSymbolicLink() ? "a symlink has this name" : "a directory of other keys has this name",
      );
    } catch (err) {
      if (isMissing(err)) return false;
      if (errnoOf(err) === undefined) throw err;
      throw mapFsError("put", key, err);
    }
  }

  /**
   * Opens an object's file and returns its descriptor with its size (one
   * stat, which also refuses a directory). Both calls are made on the
   * calling thread, as small reads are (see get).
   */
  private async openObject(op: string, key: string): Promise<{ fd: number; size: number }> {
    const path = await this.confinedPath(key);
    let fd: number;
    try {
      // O_NOFOLLOW: a symlink placed where an object should be is not followed out of the store.
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (isMissing(err) || errnoOf(err) === "ELOOP") throw new ObjectNotFoundError(key);
      throw mapFsError(op, key, err);
    }
    let size: number | undefined;
    try {
      const info = fstatSync(fd);
      if (info.isFile()) size = info.size;
    } catch {
      // unreadable: no object
    }
    if (size === undefined) {
      closeSync(fd);
      throw new ObjectNotFoundError(key);
    }
    return { fd, size };
  }

  private async readIfPresent(op: string, key: string): Promise<Buffer | undefined> {
    try {
      const handle = await open(await this.confinedPath(key), constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        return await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (isMissing(err) || errnoOf(err) === "EISDIR" || errnoOf(err) === "ELOOP") return undefined;
      throw mapFsError(op, key, err);
    }
  }

  /** Writes the source to a new synced temp file and returns its path. */
  private async writeTemp(op: string, key: string, data: PutSource, durable = true): Promise<string> {
    // The writer's pid in the name: a sweep leaves the files of a live writer alone.
    const tmp = join(this.root, TMP_DIR, `${process.pid}-${randomBytes(12).toString("hex")}.tmp`);
    let handle: FileHandle | undefined;
    try {
      handle = await open(tmp, "wx", 0o644);
      for await (const chunk of sourceChunks(data)) {
        for (let written = 0; written < chunk.length; ) {
          written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten;
        }
      }
      if (durable) await handle.sync();
      await handle.close();
      handle = undefined;
      return tmp;
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw errnoOf(err) === undefined ? err : mapFsError(op, key, err);
    }
  }

  /**
   * The file of a key about to be written, with its directories made. Each
   * directory on the way is known (made or resolved before), or made here
   * under a known parent (a directory this store has just made is no
   * planted link), or, when it already exists, resolved as confine() does.
   * So a put into a directory seen before costs no call, and one that needs
   * a new directory costs that mkdir only.
   */
  private async writablePath(op: string, key: string, durable: boolean): Promise<string> {
    const path = this.pathOf(key);
    await this.ensureDir(op, key, dirname(path), durable);
    return path;
  }

  private async ensureDir(op: string, key: string, dir: string, durable: boolean): Promise<void> {
    if (dir === this.root || this.confinedDirs.has(dir)) return;
    await this.ensureDir(op, key, dirname(dir), durable);
    try {
      await mkdir(dir);
      // The new entry must survive a crash along with what is put in it.
      if (durable) await fsyncDir(dirname(dir));
    } catch (err) {
      const code = errnoOf(err);
      if (code === "ENOTDIR") throw new InvalidKeyError(key, "a parent segment is itself an object");
      if (code !== "EEXIST") throw mapFsError(op, key, err);
      await this.confine(key, dir);
      return;
    }
    this.remember(dir);
  }

  /**
   * Creates `path` in its directory (made or found by writablePath) with
   * `create`. Should the directory be gone, removed behind the store's back
   * since, it is forgotten, made again, and `create` runs once more.
   */
  private async inKnownDir<T>(
    op: string,
    key: string,
    path: string,
    durable: boolean,
    create: () => Promise<T>,
  ): Promise<T> {
    try {
      return await create();
    } catch (err) {
      if (errnoOf(err) !== "ENOENT") throw err;
      const dir = dirname(path);
      for (let d = dir; d !== this.root; d = dirname(d)) this.confinedDirs.delete(d);
      await this.ensureDir(op, key, dir, durable);
      return create();
    }
  }

  private remember(dir: string): void {
    if (this.confinedDirs.size >= MAX_CONFINED_DIRS) this.confinedDirs.clear();
    this.confinedDirs.add(dir);
  }

  private async checkExpect(name: string, key: string, options: RefWriteOptions | undefined): Promise<void> {
    if (options?.expect === undefined) return;
    const current = await this.readIfPresent("putRef", key);
    const actual = current === undefined ? null : refVersion(current);
    if (actual !== options.expect) throw new RefConflictError(name, options.expect, actual);
  }

  /** Serialises ref writers: in process by a promise chain, across processes by a lock file. */
  private async withRefLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.inProcessLocks.get(key) ?? Promise.resolve();
    const lockFile = join(this.root, LOCK_DIR, `${refVersion(Buffer.from(key))}.lock`);
    const run = previous.then(
      () => withFileLock(lockFile, fn),
      () => withFileLock(lockFile, fn),
    );
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.inProcessLocks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.inProcessLocks.get(key) === settled) this.inProcessLocks.delete(key);
    }
  }

  /**
   * Yields the objects under `dir` (whose keys start with `dirKey`) that
   * match `prefix`, one directory read at a time, in key order: entries are
   * sorted by name, with "/" appended to directory names, which is exactly
   * where their keys fall in byte order.
   */
  private async *walk(dir: string, dirKey: string, prefix: string): AsyncGenerator<ListEntry> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw mapFsError("list", prefix, err);
    }
    const sorted = entries
      .filter((e) => !e.name.startsWith(".") && (e.isDirectory() || e.isFile()))
      .map((e) => ({ entry: e, sortKey: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    for (const { entry, sortKey } of sorted) {
      const key = dirKey + sortKey;
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(key)) yield* this.walk(join(dir, entry.name), key, prefix);
      } else if (key.startsWith(prefix)) {
        const info = await lstat(join(dir, entry.name)).catch((err) => {
          if (isMissing(err)) return undefined; // deleted while listing
          throw mapFsError("list", key, err);
        });
        if (info?.isFile()) yield { key, size: info.size, mtime: info.mtime };
      }
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** The root of a store that must exist already: a directory (symlinks followed), else StoreMissingError. */
async function mustBeDirectory(root: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(root);
  } catch (err) {
    if (isMissing(err)) throw new StoreMissingError(root, "no such directory");
    throw mapFsError("open", "", err);
  }
  if (!info.isDirectory()) throw new StoreMissingError(root, "not a directory");
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fs.read on the libuv pool, for an fd (no FileHandle: the fd is closed synchronously once done). */
function readAsync(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    read(fd, buffer, offset, length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))),
  );
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && typeof (err as NodeJS.ErrnoException).code === "string"
    ? (err as NodeJS.ErrnoException).code
    : undefined;
}

function isMissing(err: unknown): boolean {
  const code = errnoOf(err);
  return code === "ENOENT" || code === "ENOTDIR";
}

/** Out of descriptors or a busy device may pass; anything else (EACCES, ENOSPC, EROFS, EIO) will not. */
const TRANSIENT_FS_CODES = new Set(["EMFILE", "ENFILE", "EAGAIN", "EBUSY", "EINTR", "ETIMEDOUT"]);

function mapFsError(op: string, key: string, err: unknown): Error {
  if (err instanceof InvalidKeyError) return err;
  const code = errnoOf(err) ?? "unknown";
  const message = err instanceof Error ? err.message : String(err);
  return TRANSIENT_FS_CODES.has(code)
    ? new StoreUnavailableError(op, key, message, { cause: err })
    : new StoreRequestError(op, key, message, { cause: err });
}

/** Whether the process that named a temporary file "<pid>-<random>.tmp" still runs (unknown names: yes, to be safe). */
function writerRuns(name: string): boolean {
  const pid = Number(name.slice(0, name.indexOf("-")));
  return !Number.isSafeInteger(pid) || pid <= 0 || isProcessRunning(pid);
}

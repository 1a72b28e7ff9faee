/**
 * Import: a stream in, an image out. One pass over the stream, never a temp
 * file: events are read and their pages hashed (BLAKE3, a batch per
 * PAGE_DATA record on a libuv thread, overlapping with reading the next
 * records), classified against the dedup session (zero / known / new), new
 * pages packed and stored, and the page list cut into blocks.
 *
 * Commit order (README.md, "Crash safety"): packs, then the blocks naming
 * them, then the manifest naming the blocks, then the ref naming the
 * manifest. Until the ref exists no image is visible; whatever was stored
 * before a crash is content-addressed, so a retry finds it (through the
 * hook index, or as identical objects) instead of storing it again.
 */
import {
  CorruptObjectError,
  getContent,
  ObjectNotFoundError,
  putContent,
  Semaphore,
  sha256Id,
  type Compression,
  type ObjectStore,
} from "@xenfleet/store";
import { open } from "node:fs/promises";
import { eventByteLength, openSource, readStream, type StreamEvent, type StreamSource } from "@xenfleet/format";
import { classifyPagesAsync, PAGE_OTHER, PAGE_SAME, PAGE_ZERO } from "@xenfleet/native";
import { BlockBuilder, ZERO_HANDLE, type PendingBlock } from "./block-builder.js";
import { DedupSession } from "./dedup.js";
import { damagedPacks } from "./quarantine.js";
import {
  ImageAbortedError,
  ImageCorruptError,
  ImageNotFoundError,
  ImageObjectMissingError,
  UnsupportedFormatError,
} from "./errors.js";
import { hooksOf, minHook, writeHooks } from "./hooks.js";
import { acquireLock, type LockOptions } from "./locks.js";
import { blockKey, forwardKey, manifestKey, packKey, type Sha256Id } from "./keys.js";
import {
  decodeManifest,
  encodeManifest,
  type BlockRef,
  type DomainTypeName,
  type Manifest,
  type SourceKind,
} from "./manifest.js";
import { PackAssembler } from "./pack-assembly.js";
import { BLOCK_TARGET_PAGES, BLOCK_TARGET_RAW_BYTES, encodeBlock, ZERO_SLOT } from "./page-list.js";
import { imageOrigin } from "./origins.js";
import { addImageRef, latestImageRef } from "./refs.js";
import { settleAll } from "./settle.js";
import { FileSlots } from "./file-slots.js";
import { ImageDigester } from "./image-digest.js";

export interface ImportProgress {
  /** Stream bytes read so far. */
  readonly bytes: number;
  readonly pages: number;
  /** Bytes of objects this import created so far. */
  readonly bytesNew: number;
}

export interface ImportOptions {
  /** The domain the image belongs to (its refs live under this name). */
  readonly domain: string;
  /** The domain's uuid; by default the one in the stream's xl config (c_info.uuid), when present. */
  readonly uuid?: string;
  /**
   * The domain's name on its host, recorded in the manifest (ORIGIN) when it
   * differs from `domain`. By default, when `domain` is the uuid (fleet saves
   * file images under it), the stream's xl config's c_info.name.
   */
  readonly name?: string;
  /** The host the domain was saved on, recorded in the manifest (ORIGIN). */
  readonly host?: string;
  /** Labels of the save (e.g. "nightly"), recorded in the manifest (ORIGIN) for retention rules and listings. */
  readonly labels?: readonly string[];
  /**
   * The hypervisor's digest of the state the stream captured, recorded in
   * the manifest (ORIGIN). Asked for once the whole stream has been read:
   * the hypervisor knows it only when its save is done.
   */
  readonly stateDigest?: () => Promise<string | undefined>;
  /** 'auto' (default): the domain's latest image (or, before its first, the image it was copied from); an id; or null for none. */
  readonly parent?: "auto" | Sha256Id | null;
  /** How new packs are written (default 'none': the fast path; compress workers rewrite them later). */
  readonly compression?: Compression;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ImportProgress) => void;
  /**
   * What the stream was converted from. The stream given is always v2; a
   * legacy image is converted first (importLegacyImage does that) and says
   * so here, with its width, so the manifest records it.
   */
  readonly sourceKind?: SourceKind;
  /** The image's creation time (default now). */
  readonly created?: Date;
  /** Champion blocks per segment (default 4). */
  readonly champions?: number;
  /** Raw bytes per pack (default 4 MiB). */
  readonly packBytes?: number;
  /** The shared lock held during the import (wait for a GC sweep up to lock.waitMs, default 10 minutes). */
  readonly lock?: LockOptions;
}

export interface ImportResult {
  readonly imageId: Sha256Id;
  /** Stream bytes. */
  readonly bytesTotal: number;
  /** Bytes of the objects this import stored (packs, blocks, manifest); what the image added to the store. */
  readonly bytesNew: number;
  /** Pages carrying data in the stream. */
  readonly pages: number;
  readonly zeroPages: number;
  /** Non-zero pages already stored (in the parent, a champion, or earlier in this image). */
  readonly dedupPages: number;
  readonly parent: Sha256Id | null;
  /** The domain's latest image, not used as the parent because its manifest could not be read (a full save). */
  readonly parentSkipped?: { id: Sha256Id; reason: string };
  readonly seconds: number;
  /** Packs this import stored / found already stored with the same bytes (a retry). */
  readonly packsCreated: number;
  readonly packsReused: number;
}

/** How many records are read and hashed and not yet classified (the one being classified included). */
const READ_AHEAD = 4;
/** ... and while the parent's page list is still loading (16 records of 1024 pages: 64 MiB held). */
const READ_AHEAD_WHILE_PARENT_LOADS = 16;
/**
 * Puts of page list blocks and hooks in flight at once, one limit for both.
 * A block put waits on two fsyncs, and the blocks naming the last pack can
 * only be put once it is stored, after the stream has ended: many in flight
 * shorten that wait. Bounded so they do not crowd the libuv pool, which
 * also reads and hashes the stream.
 */
const PUT_CONCURRENCY = 16;
/** Raw bytes of page-less blocks being stored at once (see closeBlock). */
const RAW_ONLY_BYTES_IN_FLIGHT = 16 * 1024 * 1024;
/** Pack existence checks in flight at once before the commit. */
const CHECK_CONCURRENCY = 32;

export async function importImage(
  store: ObjectStore,
  source: StreamSource,
  options: ImportOptions,
): Promise<ImportResult> {
  const started = performance.now();
  const created = options.created ?? new Date();
  const lock = await acquireLock(store, "shared", {
    waitMs: 10 * 60 * 1000,
    ...options.lock,
    purpose: `import of ${options.domain}`,
  });
  const slots = new FileSlots();
  const read = { bytes: 0 };
  const digester = new ImageDigester();
  try {
    const [{ parent, skipped: parentSkipped }, damaged] = await Promise.all([
      resolveParent(store, options),
      damagedPacks(store),
    ]);
    const session = new DedupSession(store, {
      ...(options.champions === undefined ? {} : { champions: options.champions }),
      expectedPages: expectedIndexSize(parent?.manifest),
      damagedPacks: damaged,
    });
    // The parent loads while the stream's first records are read and hashed;
    // classification waits for it (any page of the parent may be repeated).
    let parentReady = parent === undefined;
    const parentLoaded =
      parent === undefined
        ? Promise.resolve()
        : session.loadImage(parent.manifest).then(() => void (parentReady = true));
    parentLoaded.catch(() => {}); // the classification chain below starts from it
    const packs = new PackAssembler(store, session.packs, {
      compression: options.compression ?? "none",
      ...(options.packBytes === undefined ? {} : { targetBytes: options.packBytes }),
    });

    const facts = {
      domainType: "unknown" as DomainTypeName,
      xen: null as { major: number; minor: number } | null,
      libxc: 0,
      uuid: options.uuid,
      name: undefined as string | undefined,
      pageShift: 12,
    };
    const counts = { pages: 0, zeroPages: 0, dedupPages: 0, records: 0, blockBytesNew: 0 };
    const builder = new BlockBuilder();
    const blocks: Array<Promise<BlockRef>> = [];
    const referencedPacks = new Set<Sha256Id>();

    // A block waits for the packs it names, which may take many more blocks
    // to fill on a night with few changes; only its puts are limited, never
    // the waiting (that would stall the loop that fills the packs).
    const puts = new Semaphore(PUT_CONCURRENCY);
    const storeBlock = async (pending: PendingBlock): Promise<BlockRef> => {
      const block = await pending.resolve(session.packs);
      for (const p of block.packs) referencedPacks.add(p);
      // Compressed: it is small, and the pfn arrays and slots in it are most of what compresses in an image's metadata.
      const bytes = encodeBlock(block, "zstd");
      const id = sha256Id(bytes);
      // A block read in this session (the parent's, a champion) exists, and the shared lock keeps it: no store round trip.
      if (session.present.has(id)) return { id, pages: pending.pages, rawBytes: pending.rawBytes };
      const { created: isNew } = await puts.run(() => store.put(blockKey(id), bytes));
      if (isNew) {
        counts.blockBytesNew += bytes.length;
        // Hooks after the block: a hook never names a block that is not there yet.
        // Only the hooks of pages this import stored: a page that was already
        // stored already has its hook, pointing at a block that holds it.
        const hooks = hooksOf(block.digests, 0, block.slots.length, pending.newPages);
        const anchor = minHook(block.digests, 0, block.slots.length, (i) => block.slots[i] === ZERO_SLOT);
        await writeHooks(store, id, anchor === undefined || hooks.includes(anchor) ? hooks : [...hooks, anchor], puts);
      }
      return { id, pages: pending.pages, rawBytes: pending.rawBytes };
    };
    // Raw bytes of blocks without pages (the body of a long unknown record)
    // being stored: bounded, so such a record is held about once however
    // slow the puts, rather than piling up behind them. Only those blocks
    // are waited for: they name no pack, so they never wait for the pages
    // this loop has yet to add.
    let rawOnlyBytes = 0;
    const rawOnlyBlocks: Array<Promise<void>> = [];
    const closeBlock = () => {
      if (builder.empty) return;
      const rawOnly = builder.pages === 0 ? builder.rawBytes : 0;
      const stored = storeBlock(builder.take());
      stored.catch(() => {}); // awaited with the others at the end
      blocks.push(stored);
      if (rawOnly > 0) {
        rawOnlyBytes += rawOnly;
        rawOnlyBlocks.push(stored.then(noop, noop).then(() => void (rawOnlyBytes -= rawOnly)));
      }
    };

    // Per-batch scratch for the classification below, grown as needed.
    let handles = new Int32Array(1024);
    let fresh = new Uint8Array(1024);
    const classify = async (item: Pending) => {
      const ev = item.event;
      if (ev.kind === "record-data") {
        // A piece of an unknown record's body: kept in blocks of its own, which name no pack.
        if (builder.pages > 0) closeBlock();
      } else counts.records++;
      noteFacts(ev, facts);
      builder.addRaw(ev.raw);
      digester.addRaw(ev.raw);
      if (item.hashed !== undefined) {
        const { digests, flags, count: n } = await item.hashed;
        if (!item.comparedWithParent) markSameAsParent(digests, flags, n, session.parentDigests, counts.pages);
        await session.prepareSegment(digests, flags, n, counts.pages);
        if (handles.length < n) {
          handles = new Int32Array(n);
          fresh = new Uint8Array(n);
        }
        const first = counts.pages;
        const parentHandles = session.parentHandles;
        for (let i = 0; i < n; i++) {
          const flag = flags[i];
          fresh[i] = 0;
          if (flag === PAGE_ZERO) {
            counts.zeroPages++;
            handles[i] = ZERO_HANDLE;
          } else if (flag === PAGE_SAME) {
            counts.dedupPages++;
            handles[i] = parentHandles[first + i]!;
          } else {
            let handle = session.index.get(digests, i * 32);
            if (handle < 0) {
              handle = packs.add(digests, i * 32, item.pages![i]!);
              session.index.add(digests, i * 32, handle);
              fresh[i] = 1;
            } else {
              counts.dedupPages++;
            }
            handles[i] = handle;
          }
        }
        digester.addPages(digests, n, (i) => flags[i] === PAGE_ZERO);
        counts.pages += n;
        // Blocks may end inside a record: a block's size, not Xen's batch size, decides how much of the page list an unchanged region shares.
        for (let i = 0; i < n; ) {
          const take = Math.min(n - i, BLOCK_TARGET_PAGES - builder.pages);
          builder.addPages(digests, handles, fresh, i, i + take);
          i += take;
          if (builder.pages >= BLOCK_TARGET_PAGES) closeBlock();
        }
        await packs.drain();
      }
      if (builder.pages >= BLOCK_TARGET_PAGES || builder.rawBytes >= BLOCK_TARGET_RAW_BYTES) closeBlock();
      while (rawOnlyBytes > RAW_ONLY_BYTES_IN_FLIGHT) await rawOnlyBlocks.shift();
      slots.release(ev.offset + eventByteLength(ev));
      options.onProgress?.({
        bytes: read.bytes,
        pages: counts.pages,
        bytesNew: packs.stats.bytesCreated + counts.blockBytesNew,
      });
    };

    let preparedPages = 0;
    const prepare = (event: StreamEvent): Pending => {
      // Until the parent is loaded its digests are incomplete: those records are compared with it once it is.
      const pending = hashPages(event, parentReady ? session.parentDigests : undefined, preparedPages);
      if (event.kind === "page-data") preparedPages += event.pages.length;
      return pending;
    };
    // Records are classified one at a time, in order, on a chain of their
    // own: while one waits (for the parent, the hook index, pack stores) this
    // loop goes on reading, parsing and hashing the next ones. A failure
    // rejects the rest of the chain, and reaches this loop through the oldest
    // record it waits for. A failure of the loop (a truncated stream, an
    // abort) stops the chain, and is reported once the record being
    // classified is done: no classification starts stores after it.
    let classified: Promise<void> = parentLoaded;
    let stopped: { reason: unknown } | undefined;
    const unclassified: Array<Promise<void>> = [];
    try {
      for await (const event of readStream(sourceChunks(source, slots, read, options.signal))) {
        const item = prepare(event);
        classified = classified.then(() => {
          if (stopped !== undefined) throw stopped.reason;
          return classify(item);
        });
        classified.catch(() => {}); // awaited below
        unclassified.push(classified);
        while (unclassified.length > (parentReady ? READ_AHEAD : READ_AHEAD_WHILE_PARENT_LOADS))
          await unclassified.shift();
      }
      await classified;
    } catch (err) {
      // Nothing this import started may land after the failure is reported
      // (and the lock released): the record being classified finishes, the
      // partial pack is dropped, and the puts already under way settle.
      stopped = { reason: err };
      await classified.catch(() => {});
      await packs.abandon(err);
      await Promise.allSettled(blocks);
      throw err;
    }
    closeBlock();
    // Every pack, block and hook put has finished before the manifest is
    // written, or before a failure is reported: the commit order holds
    // however many were in flight, and none lands after the lock is released.
    const packsStored = packs.finish();
    const blocksStored = settleAll(blocks);
    await settleAll<unknown>([packsStored, blocksStored]);
    const blockRefs = await blocksStored;
    // Every byte read was parsed into the digest: a difference is a bug here, never to be committed.
    if (digester.bytes !== read.bytes)
      throw new Error(`image digest covers ${digester.bytes} bytes of a stream of ${read.bytes}`);

    await checkPacksExist(store, referencedPacks, options.domain);
    const stateDigest = await options.stateDigest?.();

    const manifest: Manifest = {
      streamBytes: read.bytes,
      streamDigest: { kind: "image", hex: digester.digest() },
      pageSize: 1 << facts.pageShift,
      source: options.sourceKind ?? { kind: "v2" },
      domainType: facts.domainType,
      xenVersion: facts.xen,
      libxcVersion: facts.libxc,
      created,
      pages: counts.pages,
      zeroPages: counts.zeroPages,
      records: counts.records,
      parent: parent?.id ?? null,
      domain: facts.uuid === undefined ? { name: options.domain } : { name: options.domain, uuid: facts.uuid },
      blocks: blockRefs,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...domainNameOf(options, facts),
      ...(options.labels === undefined ? {} : { labels: options.labels }),
      ...(parentSkipped === undefined ? {} : { parentSkipped }),
      ...(stateDigest === undefined ? {} : { stateDigest }),
    };
    const dataBytesNew = packs.stats.bytesCreated + counts.blockBytesNew;
    const manifestBytes = encodeWithBytesNew(manifest, dataBytesNew);
    lock.assertHeld();
    const { id: imageId, created: manifestNew } = await putContent(store, "manifests", manifestBytes);
    lock.assertHeld();
    await addImageRef(store, options.domain, imageId, created, options.labels);

    return {
      imageId,
      bytesTotal: read.bytes,
      bytesNew: dataBytesNew + (manifestNew ? manifestBytes.length : 0),
      pages: counts.pages,
      zeroPages: counts.zeroPages,
      dedupPages: counts.dedupPages,
      parent: parent?.id ?? null,
      ...(parentSkipped === undefined ? {} : { parentSkipped }),
      seconds: (performance.now() - started) / 1000,
      packsCreated: packs.stats.packsCreated,
      packsReused: packs.stats.packs - packs.stats.packsCreated,
    };
  } finally {
    slots.close();
    await lock.release();
  }
}

/** What a promise settles to, when only that it settled matters. */
function noop(): void {}

/** The domain's name to record, if it is not the name the image is filed under. */
function domainNameOf(
  options: ImportOptions,
  facts: { uuid: string | undefined; name: string | undefined },
): { domainName?: string } {
  const name = options.name ?? (options.domain === facts.uuid ? facts.name : undefined);
  return name === undefined || name === options.domain ? {} : { domainName: name };
}

/**
 * The manifest, recording what the import added to the store: its new data
 * and the manifest itself, whose length depends on that number's digits.
 * A few rounds settle it (a length changes the sum by at most a digit).
 */
function encodeWithBytesNew(manifest: Manifest, dataBytesNew: number): Buffer {
  let bytesNew = dataBytesNew;
  for (;;) {
    const bytes = encodeManifest({ ...manifest, bytesNew });
    if (dataBytesNew + bytes.length === bytesNew) return bytes;
    bytesNew = dataBytesNew + bytes.length;
  }
}

/**
 * Digests the dedup index will hold: the parent's non-zero pages and room
 * for a night's new ones. The table grows if more come (champions, a
 * rewritten domain); sized for the parent's every page twice over, it
 * would touch four times the memory, and fresh memory costs a page fault
 * per page.
 */
function expectedIndexSize(parent: Manifest | undefined): number {
  const nonZero = parent === undefined ? 0 : parent.pages - parent.zeroPages;
  return Math.ceil(nonZero * 1.25) + 4096;
}

interface Pending {
  readonly event: StreamEvent;
  /** Whether hashing also compared the pages with the parent's (false when the parent was still loading). */
  readonly comparedWithParent: boolean;
  readonly pages?: Uint8Array[];
  readonly hashed?: Promise<{ digests: Uint8Array; flags: Uint8Array; count: number }>;
}

/**
 * Starts hashing a PAGE_DATA record's pages on a libuv thread while the next
 * records are read, each page also compared there with the parent's page at
 * the same stream position (`firstPage` onwards in `parentDigests`; not
 * while the parent is still loading, when there are none yet). The
 * pages are hashed where the reader left them (views into the source's
 * buffers, a batch per buffer with page offsets), so they are not copied;
 * only new pages are, into their pack.
 */
function hashPages(event: StreamEvent, parentDigests: Uint8Array | undefined, firstPage: number): Pending {
  const comparedWithParent = parentDigests !== undefined;
  const known = parentDigests ?? new Uint8Array(0);
  if (event.kind !== "page-data" || event.pages.length === 0) return { event, comparedWithParent };
  const pages = event.pages;
  const n = pages.length;
  const digests = new Uint8Array(n * 32);
  const flags = new Uint8Array(n);
  // In the addon's own form (a Float64Array), filled once: no per-batch conversion.
  const offsets = new Float64Array(n);
  const parts: Array<Promise<void>> = [];
  for (let i = 0; i < n; ) {
    const start = i;
    const buffer = pages[i]!.buffer;
    for (; i < n && pages[i]!.buffer === buffer; i++) offsets[i] = pages[i]!.byteOffset;
    const expected = known.subarray(
      Math.min(known.length, (firstPage + start) * 32),
      Math.min(known.length, (firstPage + i) * 32),
    );
    parts.push(
      classifyPagesAsync(
        new Uint8Array(buffer),
        offsets.subarray(start, i),
        expected,
        digests.subarray(start * 32, i * 32),
        flags.subarray(start, i),
      ),
    );
  }
  const hashed = Promise.all(parts).then(() => ({ digests, flags, count: n }));
  hashed.catch(() => {}); // awaited in order by classify; a failure surfaces there
  return { event, comparedWithParent, pages, hashed };
}

/** What hashing does for a batch hashed before the parent was loaded: flags pages equal to the parent's page at the same position. */
function markSameAsParent(
  digests: Uint8Array,
  flags: Uint8Array,
  count: number,
  parentDigests: Uint8Array,
  firstPage: number,
): void {
  const n = Math.min(count, parentDigests.length / 32 - firstPage);
  for (let i = 0; i < n; i++) {
    if (flags[i] !== PAGE_OTHER) continue;
    if (
      Buffer.compare(
        digests.subarray(i * 32, i * 32 + 32),
        parentDigests.subarray((firstPage + i) * 32, (firstPage + i) * 32 + 32),
      ) === 0
    )
      flags[i] = PAGE_SAME;
  }
}

/**
 * The source's chunks, counted; honours the abort signal between chunks. A
 * file named by path is read straight into reusable slots (the importer
 * releases them as it goes).
 */
async function* sourceChunks(
  source: StreamSource,
  slots: FileSlots,
  read: { bytes: number },
  signal: AbortSignal | undefined,
): AsyncIterable<Uint8Array> {
  const check = () => {
    if (signal?.aborted) throw new ImageAbortedError("import", { cause: signal.reason });
  };
  if (typeof source === "string") {
    const file = await open(source, "r");
    try {
      for await (const chunk of slots.read(file)) {
        check();
        read.bytes += chunk.length;
        yield chunk;
      }
    } finally {
      await file.close();
    }
  } else {
    for await (const chunk of openSource(source)) {
      check();
      read.bytes += chunk.length;
      yield chunk;
    }
  }
  check();
}

function noteFacts(
  ev: StreamEvent,
  facts: {
    domainType: DomainTypeName;
    xen: { major: number; minor: number } | null;
    libxc: number;
    uuid: string | undefined;
    name: string | undefined;
    pageShift: number;
  },
): void {
  if (ev.kind === "xl-header") {
    const info = (ev.config as { c_info?: { uuid?: unknown; name?: unknown } } | undefined)?.c_info;
    if (facts.uuid === undefined && typeof info?.uuid === "string") facts.uuid = info.uuid;
    if (facts.name === undefined && typeof info?.name === "string" && info.name !== "") facts.name = info.name;
  } else if (ev.kind === "image-header") {
    facts.libxc = ev.version;
  } else if (ev.kind === "domain-header") {
    facts.domainType = ev.domainTypeName;
    facts.xen = { major: ev.xenMajor, minor: ev.xenMinor };
    facts.pageShift = ev.pageShift;
  }
}

/**
 * A domain without images of its own that was made as a copy of an image
 * (origins.ts): that image is its parent. One that cannot be read any more
 * (pruned since) leaves the save a full one, unflagged: nothing is wrong.
 */
async function originParent(store: ObjectStore, domain: string): Promise<ResolvedParent> {
  const id = await imageOrigin(store, domain);
  if (id === undefined) return {};
  try {
    return { parent: { id, manifest: decodeManifest(manifestKey(id), await getContent(store, "manifests", id)) } };
  } catch (err) {
    const unreadable =
      err instanceof ObjectNotFoundError ||
      err instanceof CorruptObjectError ||
      err instanceof ImageCorruptError ||
      err instanceof UnsupportedFormatError;
    if (unreadable) return {};
    throw err;
  }
}

interface ResolvedParent {
  readonly parent?: { id: Sha256Id; manifest: Manifest };
  /** The latest image, not used as the parent because its manifest could not be read. */
  readonly skipped?: { id: Sha256Id; reason: string };
}

/**
 * The parent to dedup against. An explicit id must be readable. The
 * domain's latest image ("auto") is skipped when its manifest cannot be
 * read (missing, corrupt, a version this code does not read): the save
 * becomes a full one and says why, instead of every later save of the
 * domain failing on the same image. A store that cannot be reached is not
 * a reason to skip: that error is thrown, and the save retried.
 */
async function resolveParent(store: ObjectStore, options: ImportOptions): Promise<ResolvedParent> {
  // null (none) is a choice, not an absence: `??` would turn it into "auto".
  const wanted = options.parent === undefined ? "auto" : options.parent;
  if (wanted === null) return {};
  const id = wanted === "auto" ? (await latestImageRef(store, options.domain))?.id : wanted;
  if (id === undefined) return wanted === "auto" ? originParent(store, options.domain) : {};
  try {
    return { parent: { id, manifest: decodeManifest(manifestKey(id), await getContent(store, "manifests", id)) } };
  } catch (err) {
    const unreadable =
      err instanceof ObjectNotFoundError ||
      err instanceof CorruptObjectError ||
      err instanceof ImageCorruptError ||
      err instanceof UnsupportedFormatError;
    if (wanted === "auto" && unreadable) return { skipped: { id, reason: (err as Error).message } };
    if (err instanceof ObjectNotFoundError) throw new ImageNotFoundError(id, { cause: err });
    throw err;
  }
}

/**
 * Before committing, every pack the image names must exist (or have been
 * rewritten, with a forward to its new copy). Dedup trusted the parent's and
 * the champions' blocks; this catches a store damaged behind our back before
 * a manifest depends on it.
 */
async function checkPacksExist(store: ObjectStore, ids: Set<Sha256Id>, domain: string): Promise<void> {
  const heads = new Semaphore(CHECK_CONCURRENCY);
  await settleAll(
    [...ids].map((id) =>
      heads.run(async () => {
        if ((await store.head(packKey(id))) !== undefined) return;
        if ((await store.head(forwardKey(id))) !== undefined) return;
        throw new ImageObjectMissingError(`(new image of ${domain})`, packKey(id));
      }),
    ),
  );
}

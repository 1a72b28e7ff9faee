/**
 * Forwards: how a pack is rewritten (compressed) while readers use it.
 *
 * Blocks name packs by id and are immutable, so a rewritten pack cannot be
 * renamed into them. Instead the compressor stores the new pack under its
 * own content key, then writes a *forward*, forwards/<ab>/<old id>, holding
 * the new id: a write-once object (put-if-absent; the first forward written
 * wins). Readers resolve a pack id through forwards before reading it. Until
 * the forward exists they read the old pack, which is still there; after,
 * the new one, which was complete before the forward was written. GC deletes
 * the old pack only once its forward exists, the new pack exists, and the
 * forward is older than the grace period, so a reader that resolved the old
 * id just before the forward appeared has finished with it (and a reader
 * that finds the old pack gone re-resolves; see pack-fetch.ts).
 *
 * compressPack is idempotent and safe to run concurrently: the same pack
 * compressed twice with the same algorithm gives the same bytes and key.
 */
import { ObjectNotFoundError, packFormat, recompressPack, type Compression, type ObjectStore } from "@xenfleet/store";
import { forEachLimited } from "@xenfleet/core";
import { blake3 } from "@xenfleet/native";
import { forwardKey, packKey, type Sha256Id } from "./keys.js";
import { loadManifest, loadBlock } from "./load.js";

/** Forward chains longer than this are refused (a loop, or corruption). */
const MAX_FORWARD_DEPTH = 8;

export interface ForwardRecord {
  readonly from: Sha256Id;
  readonly to: Sha256Id;
  readonly compression: Compression;
}

export async function readForward(store: ObjectStore, pack: Sha256Id): Promise<ForwardRecord | undefined> {
  try {
    const record = JSON.parse((await store.get(forwardKey(pack))).toString("utf8")) as ForwardRecord;
    if (record.from !== pack || !/^[0-9a-f]{64}$/.test(record.to)) throw new Error(`forward of ${pack} is malformed`);
    return record;
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
}

/** The id under which a pack's entries are to be read now: the pack itself, or where its forwards lead. */
export async function resolvePack(store: ObjectStore, pack: Sha256Id): Promise<Sha256Id> {
  let current = pack;
  for (let depth = 0; depth < MAX_FORWARD_DEPTH; depth++) {
    const forward = await readForward(store, current);
    if (forward === undefined) return current;
    current = forward.to;
  }
  throw new Error(`forward chain from pack ${pack} is longer than ${MAX_FORWARD_DEPTH}`);
}

/** The compression named in a pack's header (one 16-byte range read). */
export async function packCompression(store: ObjectStore, pack: Sha256Id): Promise<Compression> {
  const header = await store.get(packKey(pack), { offset: 0, length: packFormat.HEADER.size });
  const code = packFormat.HEADER_LAYOUT.decode(header).compression;
  const compression = packFormat.compressionFromCode(code);
  if (compression === undefined) throw new Error(`pack ${pack} has unknown compression code ${code}`);
  return compression;
}

export interface CompressPackResult {
  readonly from: Sha256Id;
  /** The pack now holding the entries (from itself if nothing was to be done). */
  readonly to: Sha256Id;
  /** True if this call wrote the forward. */
  readonly rewritten: boolean;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

export interface CompressOptions {
  /**
   * Pages per compressed frame (default 64: 256 KiB). Larger frames compress
   * better; reading one page then decompresses one frame. Compressed packs
   * are cold data, read whole by exports, so the ratio wins.
   */
  readonly frameEntries?: number;
  /** Default PACK_ZSTD_LEVEL. */
  readonly zstdLevel?: number;
}

/**
 * zstd level of compressed packs. Compress workers run off the save path
 * and scale out, so they can spend more time per byte than a save could:
 * level 7 stores memory pages about 1.5% smaller than level 3 at about half
 * the speed (measured on bench/nightly.ts's page mix).
 */
export const PACK_ZSTD_LEVEL = 7;

/** Rewrites a pack with `compression` and forwards its id to the new pack. */
export async function compressPack(
  store: ObjectStore,
  pack: Sha256Id,
  compression: Compression,
  options: CompressOptions = {},
): Promise<CompressPackResult> {
  const current = await resolvePack(store, pack);
  const before = (await store.head(packKey(current)))?.size ?? 0;
  if ((await packCompression(store, current)) === compression)
    return { from: pack, to: current, rewritten: false, bytesBefore: before, bytesAfter: before };
  const result = await recompressPack(store, current, compression, {
    hashers: { blake3 },
    frameEntries: options.frameEntries ?? 64,
    zstdLevel: options.zstdLevel ?? PACK_ZSTD_LEVEL,
  });
  const record: ForwardRecord = { from: current, to: result.id, compression };
  const { created } = await store.put(forwardKey(current), Buffer.from(JSON.stringify(record)));
  const to = created ? result.id : await resolvePack(store, current);
  const after = (await store.head(packKey(to)))?.size ?? 0;
  return { from: pack, to, rewritten: created, bytesBefore: before, bytesAfter: after };
}

export interface CompressImageResult {
  readonly packs: number;
  readonly rewritten: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/** Compresses every pack an image names (the compress worker's job). */
export async function compressImage(
  store: ObjectStore,
  imageId: Sha256Id,
  compression: Compression,
  options: CompressOptions & { concurrency?: number; signal?: AbortSignal } = {},
): Promise<CompressImageResult> {
  const manifest = await loadManifest(store, imageId);
  const packs = new Set<Sha256Id>();
  for (const ref of manifest.blocks) for (const p of (await loadBlock(store, imageId, ref.id)).packs) packs.add(p);
  const totals = { packs: packs.size, rewritten: 0, bytesBefore: 0, bytesAfter: 0 };
  await forEachLimited(packs, options.concurrency ?? 2, async (p) => {
    options.signal?.throwIfAborted();
    const r = await compressPack(store, p, compression, options);
    if (r.rewritten) totals.rewritten++;
    totals.bytesBefore += r.bytesBefore;
    totals.bytesAfter += r.bytesAfter;
  });
  return totals;
}

/**
 * Export: an image back to its stream, byte for byte. Blocks are read in
 * order with their pages fetched a few blocks ahead (PREFETCH_BLOCKS), so
 * store latency overlaps with writing; memory holds those blocks' pages and
 * the pack cache, whatever the image size. Every page is checked against
 * its digest (BLAKE3, in batches on a libuv thread) before it is written,
 * and the whole output against the manifest's stream digest and length at
 * the end: the image digest, computed from the page digests just checked and
 * the non-page bytes, or for images that recorded it the stream's SHA-256.
 */
import { hashPagesAsync, PAGE_SIZE } from "@xenfleet/native";
import type { ObjectStore } from "@xenfleet/store";
import type { ByteSink } from "@xenfleet/format";
import { ImageAbortedError, ImageCorruptError } from "./errors.js";
import { blockKey, manifestKey, packKey, type Sha256Id } from "./keys.js";
import { asImageError, loadBlock, loadManifest } from "./load.js";
import type { Manifest, StreamDigest } from "./manifest.js";
import { PackFetcher, type PageWant } from "./pack-fetch.js";
import { ZERO_SLOT, type PageListBlock } from "./page-list.js";
import { ImageDigester } from "./image-digest.js";
import { StreamHasher } from "./stream-hash.js";

export interface ExportProgress {
  readonly bytes: number;
  readonly bytesTotal: number;
}

export interface ExportOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ExportProgress) => void;
  /** Blocks fetched ahead of the one being written (default 4). */
  readonly prefetchBlocks?: number;
}

export interface ExportResult {
  readonly imageId: Sha256Id;
  readonly bytes: number;
  /** The exported stream's digest, of the kind its manifest records (and equal to it). */
  readonly digest: StreamDigest;
  readonly seconds: number;
}

interface ReadyBlock {
  readonly block: PageListBlock;
  /** The block's pages, back to back (zero pages zero-filled). */
  readonly pages: Buffer;
}

export async function exportImage(
  store: ObjectStore,
  imageId: Sha256Id,
  sink: ByteSink,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const started = performance.now();
  const manifest = await loadManifest(store, imageId);
  const fetcher = new PackFetcher(store);
  const write = sinkWriter(sink);
  // Only images that recorded the stream's SHA-256 pay for hashing every byte again.
  const hasher = manifest.streamDigest.kind === "sha256" ? new StreamHasher() : undefined;
  const digester = hasher === undefined ? new ImageDigester() : undefined;
  const ahead = options.prefetchBlocks ?? 4;
  const pending: Array<Promise<ReadyBlock>> = [];
  let next = 0;
  const refill = () => {
    while (pending.length < ahead && next < manifest.blocks.length) {
      const p = readyBlock(store, fetcher, imageId, manifest.blocks[next++]!.id);
      p.catch(() => {}); // awaited in order below
      pending.push(p);
    }
  };
  let bytes = 0;
  try {
    refill();
    while (pending.length > 0) {
      if (options.signal?.aborted) throw new ImageAbortedError("export", { cause: options.signal.reason });
      const { block, pages } = await pending.shift()!;
      refill();
      let raw = 0;
      let page = 0;
      for (let i = 0; i < block.pieces.length; i += 2) {
        const rawLength = block.pieces[i]!;
        const pageCount = block.pieces[i + 1]!;
        digester?.addRaw(block.raw.subarray(raw, raw + rawLength));
        digester?.addPages(block.digests.subarray(page * 32, (page + pageCount) * 32), pageCount);
        for (const chunk of [
          block.raw.subarray(raw, raw + rawLength),
          pages.subarray(page * PAGE_SIZE, (page + pageCount) * PAGE_SIZE),
        ]) {
          if (chunk.length === 0) continue;
          await hasher?.update(chunk);
          await write(chunk);
          bytes += chunk.length;
        }
        raw += rawLength;
        page += pageCount;
      }
      options.onProgress?.({ bytes, bytesTotal: manifest.streamBytes });
    }
    const expected = manifest.streamDigest;
    const digest = { kind: expected.kind, hex: digester?.digest() ?? (await hasher!.digest()) };
    if (bytes !== manifest.streamBytes || digest.hex !== expected.hex) {
      throw new ImageCorruptError(
        imageId,
        manifestKey(imageId),
        `exported ${bytes} bytes with ${expected.kind} digest ${digest.hex}, manifest says ${manifest.streamBytes} bytes with ${expected.hex}`,
      );
    }
    return { imageId, bytes, digest, seconds: (performance.now() - started) / 1000 };
  } finally {
    await hasher?.close();
  }
}

/** Exports the image to nowhere: every object read, every page and the whole stream checked. */
export async function verifyImage(
  store: ObjectStore,
  imageId: Sha256Id,
  options: ExportOptions = {},
): Promise<ExportResult> {
  return exportImage(store, imageId, () => {}, options);
}

/** Reads one block and its pages, and checks every page against its digest. */
async function readyBlock(
  store: ObjectStore,
  fetcher: PackFetcher,
  imageId: Sha256Id,
  blockId: Sha256Id,
): Promise<ReadyBlock> {
  const block = await loadBlock(store, imageId, blockId);
  const count = block.slots.length;
  const pages = Buffer.alloc(count * PAGE_SIZE);
  const wants: PageWant[][] = block.packs.map(() => []);
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) {
    const slot = block.slots[i]!;
    if (slot === ZERO_SLOT) continue;
    wants[slot]!.push({
      id: Buffer.from(block.digests.buffer, block.digests.byteOffset + i * 32, 32).toString("hex"),
      at: i * PAGE_SIZE,
    });
    offsets.push(i * PAGE_SIZE);
  }
  await Promise.all(
    block.packs.map(async (pack, slot) => {
      try {
        await fetcher.fetch(pack, wants[slot]!, pages);
      } catch (err) {
        throw asImageError(err, imageId);
      }
    }),
  );
  if (offsets.length > 0) {
    const digests = await hashPagesAsync(pages, offsets);
    for (let k = 0; k < offsets.length; k++) {
      const i = offsets[k]! / PAGE_SIZE;
      if (digests.compare(block.digests, i * 32, i * 32 + 32, k * 32, k * 32 + 32) !== 0) {
        const pack = block.packs[block.slots[i]!]!;
        throw new ImageCorruptError(
          imageId,
          packKey(pack),
          `page ${i} of block ${blockKey(blockId)} does not match its digest`,
        );
      }
    }
  }
  return { block, pages };
}

/** Writes to a Node stream with backpressure, or calls the sink function. */
function sinkWriter(sink: ByteSink): (chunk: Uint8Array) => Promise<void> {
  if (typeof sink === "function") return async (chunk) => void (await sink(chunk));
  return (chunk) =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      sink.once("error", onError);
      const ok = sink.write(chunk, (err) => {
        if (err) reject(err);
      });
      const done = () => {
        sink.removeListener("error", onError);
        resolve();
      };
      if (ok) done();
      else sink.once("drain", done);
    });
}

export type { Manifest };

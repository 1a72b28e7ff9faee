/**
 * Export: an image back to its stream, byte for byte. Blocks are read in
 * order with their pages fetched a few blocks ahead (PREFETCH_BLOCKS), so
 * store latency overlaps with writing and several pack reads are in flight;
 * memory holds those blocks' pages and the pack cache, whatever the image
 * size. Pages are written where they were fetched (views of packs or of
 * their decompressed frames), never copied into a block buffer. Every page is checked against
 * its digest (BLAKE3, in batches on a libuv thread) before it is written,
 * and the whole output against the manifest's stream digest and length at
 * the end: the image digest, computed from the page digests just checked and
 * the non-page bytes, or for images that recorded it the stream's SHA-256.
 */
import { hashPagesAsync, PAGE_SIZE } from "@xenfleet/native";
import type { ObjectStore } from "@xenfleet/store";
import type { Writable } from "node:stream";
import type { ByteSink } from "@xenfleet/format";
import { ImageAbortedError, ImageCorruptError } from "./errors.js";
import { blockKey, manifestKey, packKey, type Sha256Id } from "./keys.js";
import { asImageError, loadBlock, loadManifest } from "./load.js";
import type { Manifest, StreamDigest } from "./manifest.js";
import { PackFetcher } from "./pack-fetch.js";
import { ZERO_SLOT, type PageListBlock } from "./page-list.js";
import { ImageDigester } from "./image-digest.js";
import { StreamHasher } from "./stream-hash.js";

/**
 * Blocks read ahead: 16 blocks are 16 MiB of pages, four packs of a first
 * import, so that many pack reads are in flight, which a store with
 * latency (S3) needs to keep the export busy.
 */
export const PREFETCH_BLOCKS = 16;

export interface ExportProgress {
  readonly bytes: number;
  readonly bytesTotal: number;
}

export interface ExportOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ExportProgress) => void;
  /** Blocks fetched ahead of the one being written (default PREFETCH_BLOCKS). */
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
  /** Page i is the PAGE_SIZE bytes at at[i] in sources[i] (ZEROS for a zero page), checked against its digest. */
  readonly sources: Uint8Array[];
  readonly at: Float64Array;
}

/** Zero pages are written from here: views of it, never a page each. */
const ZEROS = new Uint8Array(256 * PAGE_SIZE);

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
  const ahead = options.prefetchBlocks ?? PREFETCH_BLOCKS;
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
      const ready = await pending.shift()!;
      const { block } = ready;
      refill();
      const chunks: Uint8Array[] = [];
      let raw = 0;
      let page = 0;
      for (let i = 0; i < block.pieces.length; i += 2) {
        const rawLength = block.pieces[i]!;
        const pageCount = block.pieces[i + 1]!;
        const rawBytes = block.raw.subarray(raw, raw + rawLength);
        digester?.addRaw(rawBytes);
        digester?.addPages(block.digests.subarray(page * 32, (page + pageCount) * 32), pageCount);
        if (rawLength > 0) chunks.push(rawBytes);
        appendPages(chunks, ready, page, page + pageCount);
        raw += rawLength;
        page += pageCount;
      }
      for (const chunk of chunks) {
        await hasher?.update(chunk);
        bytes += chunk.length;
      }
      await write(chunks);
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

/**
 * Appends pages [from, to) to the chunks to write, runs of pages that lie
 * back to back in one buffer (a pack's pages, in the order it stored them)
 * and runs of zero pages as one chunk each: fewer, larger writes.
 */
function appendPages(chunks: Uint8Array[], ready: ReadyBlock, from: number, to: number): void {
  const { sources, at } = ready;
  for (let i = from; i < to; ) {
    const source = sources[i]!;
    const start = at[i]!;
    let end = i + 1;
    if (source === ZEROS) {
      while (end < to && sources[end] === ZEROS && end - i < ZEROS.length / PAGE_SIZE) end++;
    } else {
      while (end < to && sources[end] === source && at[end] === start + (end - i) * PAGE_SIZE) end++;
    }
    chunks.push(source.subarray(start, start + (end - i) * PAGE_SIZE));
    i = end;
  }
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
  const sources = new Array<Uint8Array>(count).fill(ZEROS);
  const at = new Float64Array(count);
  const digests = Buffer.from(block.digests.buffer, block.digests.byteOffset, block.digests.length);
  const wanted: number[][] = block.packs.map(() => []);
  for (let i = 0; i < count; i++) {
    const slot = block.slots[i]!;
    if (slot !== ZERO_SLOT) wanted[slot]!.push(i);
  }
  await Promise.all(
    block.packs.map(async (pack, slot) => {
      const indices = wanted[slot]!;
      if (indices.length === 0) return;
      const ids = indices.map((i) => digests.toString("hex", i * 32, i * 32 + 32));
      try {
        const found = await fetcher.fetch(pack, ids);
        for (let k = 0; k < indices.length; k++) {
          sources[indices[k]!] = found.sources[k]!;
          at[indices[k]!] = found.at[k]!;
        }
      } catch (err) {
        throw asImageError(err, imageId);
      }
    }),
  );
  const ready = { block, sources, at };
  await checkPages(imageId, blockId, ready);
  return ready;
}

/**
 * Checks every data page of a block against its digest: hashed where it
 * lies, a batch per buffer the pages were fetched into (on libuv threads).
 */
async function checkPages(imageId: Sha256Id, blockId: Sha256Id, ready: ReadyBlock): Promise<void> {
  const { block, sources, at } = ready;
  const batches = new Map<Uint8Array, number[]>();
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i]!;
    if (source === ZEROS) continue;
    let batch = batches.get(source);
    if (batch === undefined) batches.set(source, (batch = []));
    batch.push(i);
  }
  await Promise.all(
    [...batches].map(async ([source, indices]) => {
      const computed = await hashPagesAsync(
        source,
        Float64Array.from(indices, (i) => at[i]!),
      );
      for (let k = 0; k < indices.length; k++) {
        const i = indices[k]!;
        if (computed.compare(block.digests, i * 32, i * 32 + 32, k * 32, k * 32 + 32) !== 0)
          throw new ImageCorruptError(
            imageId,
            packKey(block.packs[block.slots[i]!]!),
            `page ${i} of block ${blockKey(blockId)} does not match its digest`,
          );
      }
    }),
  );
}

/**
 * Writes chunks to a Node stream with backpressure (corked, so a stream
 * that gathers writes, as a file's does, makes one system call of them), or
 * calls the sink function with each.
 */
function sinkWriter(sink: ByteSink): (chunks: readonly Uint8Array[]) => Promise<void> {
  if (typeof sink === "function")
    return async (chunks) => {
      for (const chunk of chunks) await sink(chunk);
    };
  return (chunks) =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      sink.once("error", onError);
      let ok = true;
      const corkable = sink as Partial<Pick<Writable, "cork" | "uncork">>;
      corkable.cork?.();
      for (const chunk of chunks)
        ok = sink.write(chunk, (err) => {
          if (err) reject(err);
        });
      corkable.uncork?.();
      const done = () => {
        sink.removeListener("error", onError);
        resolve();
      };
      if (ok) done();
      else sink.once("drain", done);
    });
}

export type { Manifest };

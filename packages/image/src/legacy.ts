/**
 * The entry points for legacy (pre-v2) images: the stream is converted to v2
 * on the fly by @xenfleet/format's legacy converter and imported like any
 * other, with the manifest recording that it came from a legacy stream and
 * the toolstack width. Export gives back the v2 stream (what Xen restores
 * today), so the manifest's SHA-256 is that of the v2 stream.
 */
import { openSource, type StreamSource } from "@xenfleet/format";
import { detectLegacy, openLegacyAsV2, type ConvertOptions } from "@xenfleet/format/legacy";
import type { ObjectStore } from "@xenfleet/store";
import { importImage, type ImportOptions, type ImportResult } from "./importer.js";

export type AnyImportOptions = Omit<ImportOptions, "sourceKind"> & { readonly convert?: ConvertOptions };

export async function importLegacyImage(
  store: ObjectStore,
  source: StreamSource,
  options: AnyImportOptions,
): Promise<ImportResult & { readonly width: 32 | 64 }> {
  const { info, chunks } = await openLegacyAsV2(source, options.convert);
  const width = info.width;
  const result = await importImage(store, chunks, { ...options, sourceKind: { kind: "legacy", width } });
  return { ...result, width };
}

/** Enough of a stream to tell a legacy image from a v2 one (xl header, config, first records). */
const SNIFF_BYTES = 1 << 20;

/**
 * Imports a stream of either generation: the first bytes are read to tell a
 * legacy image (bare or xl-wrapped) from a v2 one, then the whole stream,
 * those bytes included, goes to the matching importer. Nothing is read twice.
 */
export async function importAnyImage(
  store: ObjectStore,
  source: StreamSource,
  options: AnyImportOptions,
): Promise<ImportResult & { readonly width?: 32 | 64 }> {
  const iterator = openSource(source)[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let done = false;
  while (headBytes < SNIFF_BYTES) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    headBytes += next.value.length;
  }
  const replay: AsyncIterable<Uint8Array> = {
    async *[Symbol.asyncIterator]() {
      yield* head;
      if (done) return;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    },
  };
  // Too short to be either kind: the v2 importer names the truncation.
  const legacy = headBytes >= 8 && detectLegacy(Buffer.concat(head, headBytes), options.convert ?? {}).legacy;
  if (legacy) return importLegacyImage(store, replay, options);
  return importImage(store, replay, options);
}

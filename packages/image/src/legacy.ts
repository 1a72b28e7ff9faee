/**
 * The entry point for legacy (pre-v2) images: the stream is converted to v2
 * on the fly by @xenfleet/format's legacy converter and imported like any
 * other, with the manifest recording that it came from a legacy stream and
 * the toolstack width. Export gives back the v2 stream (what Xen restores
 * today), so the manifest's SHA-256 is that of the v2 stream.
 */
import type { StreamSource } from "@xenfleet/format";
import { openLegacyAsV2, type ConvertOptions } from "@xenfleet/format/legacy";
import type { ObjectStore } from "@xenfleet/store";
import { importImage, type ImportOptions, type ImportResult } from "./importer.js";

export async function importLegacyImage(
  store: ObjectStore,
  source: StreamSource,
  options: Omit<ImportOptions, "sourceKind"> & { readonly convert?: ConvertOptions },
): Promise<ImportResult & { readonly width: 32 | 64 }> {
  const { info, chunks } = await openLegacyAsV2(source, options.convert);
  const width = info.width;
  const result = await importImage(store, chunks, { ...options, sourceKind: { kind: "legacy", width } });
  return { ...result, width };
}

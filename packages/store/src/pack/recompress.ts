import type { ContentId, HashAlgorithm, Hasher } from "../content-id.js";
import type { ObjectStore } from "../object-store.js";
import { getVerified } from "../verified.js";
import type { Compression } from "../compression.js";
import { PackReader } from "./reader.js";
import { PackWriter, packKey, writePack, type FinishedPack } from "./writer.js";

export interface RecompressOptions {
  readonly frameEntries?: number;
  readonly zstdLevel?: number;
  readonly hashers?: Partial<Record<HashAlgorithm, Hasher>>;
}

export interface RecompressResult {
  /** The new pack's id (the old id if the pack already used `compression`). */
  readonly id: ContentId<"sha256">;
  readonly key: string;
  /** False when the new pack already existed (a retried or concurrent rewrite). */
  readonly created: boolean;
  readonly entries: FinishedPack["entries"];
}

/**
 * Rewrites a pack with another compression: reads and verifies the whole
 * pack, writes the same entries in the same order compressed, and stores
 * the result under its own content key. The old pack is left in place:
 * readers holding its id keep working until the image index points at the
 * new one, and only garbage collection, once nothing references the old
 * pack, deletes it. A crash at any point leaves either no new pack or a
 * complete one (puts are atomic), and rerunning produces the same bytes and
 * so the same key (idempotent).
 */
export async function recompressPack(
  store: ObjectStore,
  id: ContentId<"sha256">,
  compression: Compression,
  options: RecompressOptions = {},
): Promise<RecompressResult> {
  const bytes = await getVerified(store, packKey(id), id);
  const reader = PackReader.fromBytes(id, bytes, options.hashers === undefined ? {} : { hashers: options.hashers });
  if (reader.compression === compression) {
    return { id, key: packKey(id), created: false, entries: reader.entries };
  }
  const writer = new PackWriter({
    entryHash: reader.entryHash,
    compression,
    targetBytes: Number.MAX_SAFE_INTEGER,
    ...(options.frameEntries === undefined ? {} : { frameEntries: options.frameEntries }),
    ...(options.zstdLevel === undefined ? {} : { zstdLevel: options.zstdLevel }),
  });
  for await (const entry of reader.readAll()) writer.add(entry.id as ContentId, entry.data);
  const pack = writer.finish();
  const { created } = await writePack(store, pack);
  return { id: pack.id, key: pack.key, created, entries: pack.entries };
}

import { contentKey, sha256Id, type ContentId } from "./content-id.js";
import { CorruptObjectError } from "./errors.js";
import type { ObjectStore, PutResult } from "./object-store.js";

/**
 * Reads a whole object whose key is derived from its SHA-256 and checks the
 * bytes hash to `id`; a mismatch (bit rot, a truncated upload, a wrong
 * object) is CorruptObjectError naming the key.
 */
export async function getVerified(store: ObjectStore, key: string, id: ContentId<"sha256">): Promise<Buffer> {
  const data = await store.get(key);
  const actual = sha256Id(data);
  if (actual !== id) throw new CorruptObjectError(key, `content hashes to ${actual}, expected ${id}`);
  return data;
}

/** Reads the object `<kind>/<ab>/<id>` and verifies it (see getVerified). */
export function getContent(store: ObjectStore, kind: string, id: ContentId<"sha256">): Promise<Buffer> {
  return getVerified(store, contentKey(kind, id), id);
}

/** Stores bytes under `<kind>/<ab>/<sha256>`; returns the id and key. Skipped if present. */
export async function putContent(
  store: ObjectStore,
  kind: string,
  data: Uint8Array,
): Promise<PutResult & { id: ContentId<"sha256">; key: string }> {
  const id = sha256Id(data);
  const key = contentKey(kind, id);
  const { created } = await store.put(key, data);
  return { created, id, key };
}

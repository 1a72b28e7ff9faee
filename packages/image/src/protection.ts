/**
 * Protected images: ones retention never removes (a save kept before an
 * upgrade, an image a ticket refers to). Protection is a ref of its own,
 * refs/protected/<image id>, apart from the image's refs: protecting and
 * unprotecting never rewrite the ref that holds the image, and listing
 * every protected image is one listing.
 */
import type { ObjectStore } from "@xenfleet/store";
import { ImageNotFoundError } from "./errors.js";
import type { Sha256Id } from "./keys.js";
import { listImageRefs } from "./refs.js";

/** Ref-name prefix (under the store's refs/) of protection marks. */
export const PROTECTED_REFS = "protected/";

const protectionRef = (id: Sha256Id) => `${PROTECTED_REFS}${id}`;

/** Protect an image that a ref holds (ImageNotFoundError otherwise). Protecting twice is harmless. */
export async function protectImage(store: ObjectStore, id: Sha256Id, reason = ""): Promise<void> {
  if (!(await listImageRefs(store)).some((r) => r.id === id)) throw new ImageNotFoundError(id);
  await store.putRef(protectionRef(id), Buffer.from(JSON.stringify({ id, since: new Date().toISOString(), reason })));
}

/** Lift an image's protection; returns whether it was protected. */
export async function unprotectImage(store: ObjectStore, id: Sha256Id): Promise<boolean> {
  const was = (await store.getRef(protectionRef(id))) !== undefined;
  await store.deleteRef(protectionRef(id));
  return was;
}

/** The ids of every protected image. */
export async function protectedImages(store: ObjectStore): Promise<Set<Sha256Id>> {
  const ids = new Set<Sha256Id>();
  for await (const entry of store.listRefs(PROTECTED_REFS)) {
    const id = entry.key.slice(entry.key.lastIndexOf("/") + 1);
    if (/^[0-9a-f]{64}$/.test(id)) ids.add(id as Sha256Id);
  }
  return ids;
}

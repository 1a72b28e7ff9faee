/**
 * Origins: the image a domain was made from when it is a copy under a new
 * uuid (a clone of a template, a `restore --new-uuid`). A copy has no images
 * of its own yet, so its first save would find no parent; its origin is that
 * parent instead, and the save stores only the pages the copy changed.
 *
 * An origin is a ref of its own, refs/origins/<domain>, written once when the
 * copy is made. It holds nothing: GC and retention ignore it, and an origin
 * whose image has gone since only means the first save is a full one.
 */
import type { ObjectStore } from "@xenfleet/store";
import { domainSegment, type Sha256Id } from "./keys.js";

/** Ref-name prefix (under the store's refs/) of origin marks. */
export const ORIGIN_REFS = "origins/";

const originRef = (domain: string) => `${ORIGIN_REFS}${domainSegment(domain)}`;

/** Records that `domain` (the name its images are filed under: its uuid for fleet saves) was made from `image`. */
export async function setImageOrigin(store: ObjectStore, domain: string, image: Sha256Id): Promise<void> {
  await store.putRef(
    originRef(domain),
    Buffer.from(JSON.stringify({ domain, image, since: new Date().toISOString() })),
  );
}

/** The image `domain` was made from, or undefined when it was not made as a copy (or the mark is unreadable). */
export async function imageOrigin(store: ObjectStore, domain: string): Promise<Sha256Id | undefined> {
  const value = await store.getRef(originRef(domain));
  if (value === undefined) return undefined;
  try {
    const image = (JSON.parse(value.data.toString("utf8")) as { image?: unknown }).image;
    return typeof image === "string" && /^[0-9a-f]{64}$/.test(image) ? (image as Sha256Id) : undefined;
  } catch {
    return undefined;
  }
}

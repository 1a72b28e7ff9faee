/**
 * Refs: the only mutable names of the image layer. A domain holds an image
 * through one ref per image, refs/images/<domain>/<created>-<image id>
 * (created: milliseconds since the epoch, 15 digits, so a domain's refs list
 * oldest first). One ref per image rather than one list per domain means
 * adding and removing images never read-modify-write a shared value, so two
 * writers cannot lose each other's update on any backend. The ref's value
 * repeats the name's facts as JSON for humans.
 *
 * Creating the ref is the last step of an import (its commit point);
 * deleting it is how an image is removed (GC reclaims the data later).
 * The value also carries the image's labels, so retention by label reads
 * one small ref per image rather than its manifest.
 */
import type { ObjectStore } from "@xenfleet/store";
import { IMAGE_REFS, domainFromSegment, domainRefPrefix, type Sha256Id } from "./keys.js";

export interface ImageRef {
  readonly domain: string;
  readonly id: Sha256Id;
  readonly created: Date;
  /** The ref's name (under refs/). */
  readonly name: string;
}

const NAME = /^([^/]+)\/(\d{15})-([0-9a-f]{64})$/;

export function imageRefNameOf(domain: string, id: Sha256Id, created: Date): string {
  return `${domainRefPrefix(domain)}${String(created.getTime()).padStart(15, "0")}-${id}`;
}

export async function addImageRef(
  store: ObjectStore,
  domain: string,
  id: Sha256Id,
  created: Date,
  labels: readonly string[] = [],
): Promise<ImageRef> {
  const name = imageRefNameOf(domain, id, created);
  await store.putRef(name, Buffer.from(JSON.stringify({ domain, id, created: created.toISOString(), labels })));
  return { domain, id, created, name };
}

/**
 * The labels a ref records, or undefined when it records none (a ref written
 * before refs carried labels, or one that cannot be read: ask the manifest).
 */
export async function imageRefLabels(store: ObjectStore, ref: ImageRef): Promise<string[] | undefined> {
  const value = await store.getRef(ref.name);
  if (value === undefined) return undefined;
  try {
    const labels = (JSON.parse(value.data.toString("utf8")) as { labels?: unknown }).labels;
    return Array.isArray(labels) && labels.every((l) => typeof l === "string") ? labels : undefined;
  } catch {
    return undefined;
  }
}

/** The refs of one domain, or of every domain, oldest first within a domain. */
export async function listImageRefs(store: ObjectStore, domain?: string): Promise<ImageRef[]> {
  const out: ImageRef[] = [];
  for await (const entry of store.listRefs(domain === undefined ? IMAGE_REFS : domainRefPrefix(domain))) {
    const m = NAME.exec(entry.key.slice(IMAGE_REFS.length));
    if (m === null) continue;
    out.push({
      domain: domainFromSegment(m[1]!),
      id: m[3] as Sha256Id,
      created: new Date(Number(m[2])),
      name: entry.key,
    });
  }
  return out;
}

/** The domain's newest image, by creation time. */
export async function latestImageRef(store: ObjectStore, domain: string): Promise<ImageRef | undefined> {
  const refs = await listImageRefs(store, domain);
  return refs.reduce<ImageRef | undefined>(
    (best, r) => (best === undefined || r.created >= best.created ? r : best),
    undefined,
  );
}

export async function removeImageRef(store: ObjectStore, ref: ImageRef): Promise<void> {
  await store.deleteRef(ref.name);
}

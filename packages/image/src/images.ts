/** Listing and removing images: what `image ls` and `image rm` do. */
import type { ObjectStore } from "@xenfleet/store";
import { ImageNotFoundError } from "./errors.js";
import type { Sha256Id } from "./keys.js";
import { loadManifest } from "./load.js";
import type { Manifest } from "./manifest.js";
import { listImageRefs, removeImageRef, type ImageRef } from "./refs.js";

export interface ImageInfo {
  readonly id: Sha256Id;
  readonly domain: string;
  readonly created: Date;
  /** From the manifest; undefined if it could not be read (the image is then broken: `image verify` says why). */
  readonly manifest: Manifest | undefined;
}

/** Every image a ref holds (of one domain, or all), oldest first within a domain. */
export async function listImages(store: ObjectStore, options: { domain?: string } = {}): Promise<ImageInfo[]> {
  const refs = await listImageRefs(store, options.domain);
  return Promise.all(
    refs.map(async (r) => {
      let manifest: Manifest | undefined;
      try {
        manifest = await loadManifest(store, r.id);
      } catch {
        manifest = undefined;
      }
      return { id: r.id, domain: r.domain, created: r.created, manifest };
    }),
  );
}

/**
 * Removes an image: deletes the refs holding it. Its data stays until GC
 * finds it unreferenced (by this and every other image). Throws
 * ImageNotFoundError if no ref holds the id.
 */
export async function removeImage(store: ObjectStore, imageId: Sha256Id): Promise<ImageRef[]> {
  const refs = (await listImageRefs(store)).filter((r) => r.id === imageId);
  if (refs.length === 0) throw new ImageNotFoundError(imageId);
  for (const r of refs) await removeImageRef(store, r);
  return refs;
}

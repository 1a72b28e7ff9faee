/** Listing and removing images: what `image ls` and `image rm` do. */
import type { ObjectStore } from "@xenfleet/store";
import { ImageNotFoundError, ImageUsageError } from "./errors.js";
import type { Sha256Id } from "./keys.js";
import { loadManifest } from "./load.js";
import type { Manifest } from "./manifest.js";
import { protectedImages } from "./protection.js";
import { listImageRefs, removeImageRef, type ImageRef } from "./refs.js";
import { listHealthChecks, type HealthCheck } from "./health.js";
import { listVerifications, type Verification } from "./verification.js";

export interface ImageInfo {
  readonly id: Sha256Id;
  readonly domain: string;
  readonly created: Date;
  /** From the manifest; undefined if it could not be read (the image is then broken: `image verify` says why). */
  readonly manifest: Manifest | undefined;
  /** Exempt from retention (`image protect`). */
  readonly protected: boolean;
  /** Its last verification, if it was ever verified. */
  readonly verification: Verification | undefined;
  /** Its last health check (a restored copy run), if it ever had one. */
  readonly health: HealthCheck | undefined;
}

/** Every image a ref holds (of one domain, or all), oldest first within a domain. */
export async function listImages(store: ObjectStore, options: { domain?: string } = {}): Promise<ImageInfo[]> {
  const refs = await listImageRefs(store, options.domain);
  const [protectedIds, verifications, health] = await Promise.all([
    protectedImages(store),
    listVerifications(store),
    listHealthChecks(store),
  ]);
  return Promise.all(
    refs.map(async (r) => {
      let manifest: Manifest | undefined;
      try {
        manifest = await loadManifest(store, r.id);
      } catch {
        manifest = undefined;
      }
      return {
        id: r.id,
        domain: r.domain,
        created: r.created,
        manifest,
        protected: protectedIds.has(r.id),
        verification: verifications.get(r.id),
        health: health.get(r.id),
      };
    }),
  );
}

/**
 * Removes an image: deletes the refs holding it. Its data stays until GC
 * finds it unreferenced (by this and every other image). Throws
 * ImageNotFoundError if no ref holds the id; ImageUsageError if the image
 * is protected (protection is lifted on purpose, not as a side effect).
 */
export async function removeImage(store: ObjectStore, imageId: Sha256Id): Promise<ImageRef[]> {
  const refs = (await listImageRefs(store)).filter((r) => r.id === imageId);
  if (refs.length === 0) throw new ImageNotFoundError(imageId);
  if ((await protectedImages(store)).has(imageId))
    throw new ImageUsageError(`image ${imageId} is protected; image unprotect it first`);
  for (const r of refs) await removeImageRef(store, r);
  return refs;
}

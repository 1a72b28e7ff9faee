/**
 * Reading an image's manifest and blocks, with the store's errors turned
 * into image errors naming the image and the object.
 */
import { CorruptObjectError, getContent, ObjectNotFoundError, type ObjectStore } from "@xenfleet/store";
import { ImageCorruptError, ImageNotFoundError, ImageObjectMissingError } from "./errors.js";
import { blockKey, manifestKey, type Sha256Id } from "./keys.js";
import { decodeManifest, type Manifest } from "./manifest.js";
import { decodeBlock, type PageListBlock } from "./page-list.js";

export async function loadManifest(store: ObjectStore, imageId: Sha256Id): Promise<Manifest> {
  try {
    return decodeManifest(manifestKey(imageId), await getContent(store, "manifests", imageId));
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw new ImageNotFoundError(imageId, { cause: err });
    throw asImageError(err, imageId);
  }
}

export async function loadBlock(store: ObjectStore, imageId: Sha256Id, blockId: Sha256Id): Promise<PageListBlock> {
  try {
    return decodeBlock(blockKey(blockId), await getContent(store, "blocks", blockId));
  } catch (err) {
    throw asImageError(err, imageId);
  }
}

/** Store errors about one object, restated as errors of the image that needs it. */
export function asImageError(err: unknown, imageId: Sha256Id): unknown {
  if (err instanceof ObjectNotFoundError) return new ImageObjectMissingError(imageId, err.key, { cause: err });
  if (err instanceof CorruptObjectError) return new ImageCorruptError(imageId, err.key, err.detail, { cause: err });
  return err;
}

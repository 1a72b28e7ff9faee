import { XenfleetError } from "@xenfleet/core";

/**
 * Errors of the image layer. Each names the image and, where one is at
 * fault, the store object (its key), so an operator can find both.
 */

/** No image has this id (no manifest under its key). */
export class ImageNotFoundError extends XenfleetError {
  readonly code = "XF_IMAGE_NOT_FOUND";
  constructor(
    readonly imageId: string,
    options?: { cause?: unknown },
  ) {
    super(`image ${imageId} not found`, options);
  }
}

/** An object the image needs is missing from the store. */
export class ImageObjectMissingError extends XenfleetError {
  readonly code = "XF_IMAGE_OBJECT_MISSING";
  constructor(
    readonly imageId: string,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`image ${imageId}: object ${key} is missing`, options);
  }
}

/** An object of the image (manifest, page list block, pack, page) does not hold what the image says it does. */
export class ImageCorruptError extends XenfleetError {
  readonly code = "XF_IMAGE_CORRUPT";
  constructor(
    readonly imageId: string,
    readonly key: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`image ${imageId}: corrupt object ${key}: ${detail}`, options);
  }
}

/** A manifest or page list block whose format version (or another header field) this code does not speak. */
export class UnsupportedFormatError extends XenfleetError {
  readonly code = "XF_IMAGE_UNSUPPORTED";
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(`unsupported object ${key}: ${detail}`);
  }
}

/** The store is locked by another process (an import against a GC sweep, or the reverse). Retrying later can succeed. */
export class StoreLockedError extends XenfleetError {
  readonly code = "XF_LOCK_HELD";
  override readonly unrecoverable = false;
  constructor(
    readonly holders: readonly string[],
    detail: string,
  ) {
    super(`store locked: ${detail} (held by ${holders.join(", ")})`);
  }
}

/** This process's own lock went stale (not refreshed in time), so a GC may have run: the operation is abandoned rather than committed. */
export class LockLostError extends XenfleetError {
  readonly code = "XF_LOCK_LOST";
  override readonly unrecoverable = false;
  constructor(
    readonly lockKey: string,
    detail: string,
  ) {
    super(`lock ${lockKey} lost: ${detail}`);
  }
}

/** The operation was aborted through its AbortSignal. */
export class ImageAbortedError extends XenfleetError {
  readonly code = "XF_IMAGE_ABORTED";
  override readonly unrecoverable = false;
  constructor(operation: string, options?: { cause?: unknown }) {
    super(`${operation} aborted`, options);
  }
}

/** A domain name, image id or policy the caller gave is not valid. */
export class ImageUsageError extends XenfleetError {
  readonly code = "XF_IMAGE_USAGE";
  constructor(message: string) {
    super(message);
  }
}

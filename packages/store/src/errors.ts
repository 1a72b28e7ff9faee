import { XenfleetError } from "@xenfleet/core";

/**
 * Errors raised by the store. Each has a fixed `code` and says, through
 * `unrecoverable`, whether repeating the same call could succeed: only
 * `StoreUnavailableError` (and a lost compare-and-swap race) can.
 */

/** The object (or ref) does not exist. Retrying will not make it appear. */
export class ObjectNotFoundError extends XenfleetError {
  readonly code = "XF_STORE_NOT_FOUND";
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`object not found: ${key}`, options);
  }
}

/**
 * The storage service could not be reached or answered with a transient
 * failure (timeout, connection reset, 5xx, throttling). The retry wrapper
 * retries these; anything else is passed through untouched.
 */
export class StoreUnavailableError extends XenfleetError {
  readonly code = "XF_STORE_UNAVAILABLE";
  override readonly unrecoverable = false;
  constructor(
    readonly operation: string,
    readonly key: string | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`store unavailable during ${operation}${key === undefined ? "" : ` of ${key}`}: ${detail}`, options);
  }
}

/** The service refused the request for a reason a retry will not fix (access denied, no such bucket, ...). */
export class StoreRequestError extends XenfleetError {
  readonly code = "XF_STORE_REFUSED";
  constructor(
    readonly operation: string,
    readonly key: string | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`store refused ${operation}${key === undefined ? "" : ` of ${key}`}: ${detail}`, options);
  }
}

/** A key, key prefix or ref name breaks the key rules (see key.ts). */
export class InvalidKeyError extends XenfleetError {
  readonly code = "XF_STORE_BAD_KEY";
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`invalid key ${JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}...` : key)}: ${reason}`);
  }
}

/** A byte range with a negative, fractional or unsafe offset or length. */
export class InvalidRangeError extends XenfleetError {
  readonly code = "XF_STORE_BAD_RANGE";
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super(`invalid byte range for ${key}: ${detail}`);
  }
}

/**
 * An object's bytes are not what they should be: a hash mismatch, a truncated
 * or malformed pack. Names the object and, where known, the byte offset.
 */
export class CorruptObjectError extends XenfleetError {
  readonly code = "XF_STORE_CORRUPT";
  constructor(
    readonly key: string,
    readonly detail: string,
    readonly offset?: number,
  ) {
    super(`corrupt object ${key}${offset === undefined ? "" : ` at byte ${offset}`}: ${detail}`);
  }
}

/** A pack whose version (or another header field) this code does not speak. Refused, never guessed at. */
export class UnsupportedPackError extends XenfleetError {
  readonly code = "XF_PACK_UNSUPPORTED";
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(`unsupported pack ${key}: ${detail}`);
  }
}

/** An entry id asked of a pack that does not hold it. */
export class PackEntryNotFoundError extends XenfleetError {
  readonly code = "XF_PACK_NO_ENTRY";
  constructor(
    readonly key: string,
    readonly entryId: string,
  ) {
    super(`pack ${key} has no entry ${entryId}`);
  }
}

/**
 * A conditional ref update lost: the ref's current version is not the one the
 * caller expected. Not retryable as is; the caller re-reads the ref, decides
 * again and retries with the new version, so `unrecoverable` is false.
 */
export class RefConflictError extends XenfleetError {
  readonly code = "XF_STORE_REF_CONFLICT";
  override readonly unrecoverable = false;
  constructor(
    readonly refName: string,
    readonly expected: string | null,
    readonly actual: string | null,
  ) {
    super(
      `ref ${refName} changed: expected ${expected === null ? "absent" : `version ${expected}`}, found ${actual === null ? "absent" : `version ${actual}`}`,
    );
  }
}

/** A store URL that cannot be understood (or that carries credentials, which belong in the environment). */
export class InvalidStoreUrlError extends XenfleetError {
  readonly code = "XF_STORE_BAD_URL";
  constructor(
    readonly url: string,
    detail: string,
  ) {
    super(`invalid store URL ${JSON.stringify(url)}: ${detail}`);
  }
}

/**
 * A store opened only if it exists (`openStore(url, env, { create: false })`,
 * what read-only commands do) is not there: a mistyped path, an unmounted
 * volume. Nothing was created in its place.
 */
export class StoreMissingError extends XenfleetError {
  readonly code = "XF_STORE_MISSING";
  constructor(
    readonly location: string,
    detail: string,
  ) {
    super(`no store at ${location}: ${detail}`);
  }
}

/** A content id string that is not lowercase hex of the right length. */
export class InvalidContentIdError extends XenfleetError {
  readonly code = "XF_STORE_BAD_CONTENT_ID";
  constructor(
    readonly text: string,
    detail: string,
  ) {
    super(`invalid content id ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text)}: ${detail}`);
  }
}

/**
 * An encrypted object that does not authenticate under this store's key:
 * a byte was changed, the object was cut short or extended, or (`wrongKey`)
 * it was written under another key. Never a guess that the data is corrupt:
 * authenticated encryption cannot tell a flipped bit from a forgery, so it
 * says which check failed and names the object.
 */
export class ObjectAuthenticationError extends XenfleetError {
  readonly code = "XF_STORE_AUTH_FAILED";
  constructor(
    readonly key: string,
    readonly detail: string,
    readonly wrongKey = false,
  ) {
    super(`object ${key} failed authentication: ${detail}`);
  }
}

/**
 * An encrypted object that authenticates, but was written under another
 * name than the one it was read under: someone moved or copied it. Its
 * bytes are genuine; its place is not.
 */
export class ObjectMovedError extends XenfleetError {
  readonly code = "XF_STORE_OBJECT_MOVED";
  constructor(readonly key: string) {
    super(`object ${key} was written under another name and moved here: refused`);
  }
}

/**
 * An object read through an encrypted store that is not in the encrypted
 * format at all: a store written without encryption opened with a key, or
 * an object put into the store from outside.
 */
export class NotEncryptedObjectError extends XenfleetError {
  readonly code = "XF_STORE_NOT_ENCRYPTED";
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(`object ${key} is not an encrypted object (${detail}): is the store encrypted?`);
  }
}

/** A master key that is not 32 bytes: a key file cut short, or the wrong file. */
export class InvalidMasterKeyError extends XenfleetError {
  readonly code = "XF_STORE_BAD_MASTER_KEY";
  constructor(readonly bytes: number) {
    super(`an encrypted store's master key is 32 bytes, not ${bytes}`);
  }
}

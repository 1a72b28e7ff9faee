/**
 * Errors of encrypted stores' keys and of store headers (key-ring.ts,
 * key-file.ts, store-header.ts, open-store.ts).
 */
import { XenfleetError } from "@xenfleet/core";

/**
 * A store whose header says it is encrypted was opened without a key. Names
 * every way of giving one, so the fix is in the message.
 */
export class StoreKeyMissingError extends XenfleetError {
  readonly code = "XF_KEY_MISSING";
  constructor(readonly location: string) {
    super(
      `store ${location} is encrypted and no key was given: name its key file with --key-file FILE or ` +
        "XENFLEET_KEY_FILE=FILE (a worker: XENFLEET_KEY_FILE, or XENFLEET_STORE_<NAME>_KEY_FILE for one store), " +
        "or give its passphrase in XENFLEET_PASSPHRASE",
    );
  }
}

/**
 * A key that does not unlock the store: no wrapping of the master key is
 * made for it, or the wrapping fails authentication under it. Never reported
 * as corruption: with a wrong key, nothing can tell a bad byte from a bad key.
 */
export class WrongKeyError extends XenfleetError {
  readonly code = "XF_KEY_WRONG";
  constructor(
    readonly key: string,
    readonly location: string,
    detail: string,
  ) {
    super(`${key} does not unlock store ${location}: ${detail}`);
  }
}

/** A key file that cannot be read or is not a xenfleet key file (it is never echoed: it holds a secret). */
export class KeyFileError extends XenfleetError {
  readonly code = "XF_KEY_FILE";
  constructor(
    readonly path: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`key file ${path}: ${detail}`, options);
  }
}

/** A key given for a store that is not encrypted: refused rather than ignored. */
export class StoreNotEncryptedError extends XenfleetError {
  readonly code = "XF_KEY_PLAIN_STORE";
  constructor(
    readonly location: string,
    readonly given: string,
  ) {
    super(
      `store ${location} is not encrypted, but ${given} was given; ` +
        "an encrypted store is made with `xenfleet init --encrypt` and filled with `xenfleet image copy`",
    );
  }
}

/** A key-ring change that would leave the store without a usable key, or names a key it does not have. */
export class KeyRingError extends XenfleetError {
  readonly code = "XF_KEY_REFUSED";
}

/** `xenfleet-store.json` that is not a header this code reads: an unknown version or scheme is refused, never guessed at. */
export class UnsupportedStoreError extends XenfleetError {
  readonly code = "XF_STORE_UNSUPPORTED";
  constructor(
    readonly location: string,
    detail: string,
  ) {
    super(`store ${location}: ${detail}`);
  }
}

/** `init` of a store that already has a header, or objects. */
export class StoreExistsError extends XenfleetError {
  readonly code = "XF_STORE_EXISTS";
  constructor(
    readonly location: string,
    detail: string,
  ) {
    super(`store ${location} ${detail}`);
  }
}

import { XenfleetError } from "@xenfleet/core";
import { describe, expect, it } from "vitest";
import {
  CorruptObjectError,
  InvalidContentIdError,
  InvalidKeyError,
  InvalidMasterKeyError,
  InvalidRangeError,
  InvalidStoreUrlError,
  NotEncryptedObjectError,
  ObjectAuthenticationError,
  ObjectMovedError,
  ObjectNotFoundError,
  PackEntryNotFoundError,
  RefConflictError,
  StoreMissingError,
  StoreRequestError,
  StoreUnavailableError,
  UnsupportedPackError,
  KeyFileError,
  KeyRingError,
  StoreExistsError,
  StoreKeyMissingError,
  StoreNotEncryptedError,
  UnsupportedStoreError,
  WrongKeyError,
} from "@xenfleet/store";

describe("store errors", () => {
  it.each<[XenfleetError, string, boolean, string]>([
    [new ObjectNotFoundError("packs/ab/abc"), "XF_STORE_NOT_FOUND", true, "packs/ab/abc"],
    [new StoreUnavailableError("get", "k/1", "HTTP 503"), "XF_STORE_UNAVAILABLE", false, "HTTP 503"],
    [new StoreRequestError("put", "k/1", "AccessDenied"), "XF_STORE_REFUSED", true, "AccessDenied"],
    [new InvalidKeyError("../x", "dot-dot"), "XF_STORE_BAD_KEY", true, "../x"],
    [new InvalidRangeError("k/1", "offset -1"), "XF_STORE_BAD_RANGE", true, "k/1"],
    [new CorruptObjectError("packs/ab/abc", "bad hash", 42), "XF_STORE_CORRUPT", true, "at byte 42"],
    [new UnsupportedPackError("packs/ab/abc", "version 9"), "XF_PACK_UNSUPPORTED", true, "version 9"],
    [new PackEntryNotFoundError("packs/ab/abc", "ff00"), "XF_PACK_NO_ENTRY", true, "ff00"],
    [new RefConflictError("domains/web1", null, "v2"), "XF_STORE_REF_CONFLICT", false, "domains/web1"],
    [new InvalidStoreUrlError("gs://x", "unknown scheme"), "XF_STORE_BAD_URL", true, "gs://x"],
    [new InvalidContentIdError("zz", "not hex"), "XF_STORE_BAD_CONTENT_ID", true, "zz"],
    [
      new ObjectAuthenticationError("packs/ab/abc", "segment 2 does not authenticate"),
      "XF_STORE_AUTH_FAILED",
      true,
      "segment 2",
    ],
    [new ObjectMovedError("packs/ab/abc"), "XF_STORE_OBJECT_MOVED", true, "packs/ab/abc"],
    [
      new NotEncryptedObjectError("packs/ab/abc", "no magic"),
      "XF_STORE_NOT_ENCRYPTED",
      true,
      "not an encrypted object",
    ],
    [new InvalidMasterKeyError(16), "XF_STORE_BAD_MASTER_KEY", true, "32 bytes, not 16"],
    [new StoreMissingError("/srv/stor", "no such directory"), "XF_STORE_MISSING", true, "no store at /srv/stor"],
    [new StoreKeyMissingError("/srv/enc"), "XF_KEY_MISSING", true, "XENFLEET_KEY_FILE"],
    [new WrongKeyError("the key file /k", "/srv/enc", "no wrapping"), "XF_KEY_WRONG", true, "/k does not unlock"],
    [new KeyFileError("/k", "no such file"), "XF_KEY_FILE", true, "key file /k: no such file"],
    [new StoreNotEncryptedError("/srv/plain", "--key-file"), "XF_KEY_PLAIN_STORE", true, "not encrypted"],
    [new KeyRingError("the last key"), "XF_KEY_REFUSED", true, "the last key"],
    [new UnsupportedStoreError("/srv/x", "version 9"), "XF_STORE_UNSUPPORTED", true, "version 9"],
    [new StoreExistsError("/srv/x", "already has a header"), "XF_STORE_EXISTS", true, "already has a header"],
  ])("%s", (error, code, unrecoverable, inMessage) => {
    expect(error).toBeInstanceOf(XenfleetError);
    expect(error.code).toBe(code);
    expect(error.unrecoverable).toBe(unrecoverable);
    expect(error.message).toContain(inMessage);
    expect(error.name).toBe(error.constructor.name);
  });
});

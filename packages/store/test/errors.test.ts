import { XenfleetError } from "@xenfleet/core";
import { describe, expect, it } from "vitest";
import {
  CorruptObjectError,
  InvalidContentIdError,
  InvalidKeyError,
  InvalidRangeError,
  InvalidStoreUrlError,
  ObjectNotFoundError,
  PackEntryNotFoundError,
  RefConflictError,
  StoreRequestError,
  StoreUnavailableError,
  UnsupportedPackError,
} from "@xenfleet/store";

describe("store errors", () => {
  it.each<[XenfleetError, string, boolean, string]>([
    [new ObjectNotFoundError("packs/ab/abc"), "OBJECT_NOT_FOUND", true, "packs/ab/abc"],
    [new StoreUnavailableError("get", "k/1", "HTTP 503"), "STORE_UNAVAILABLE", false, "HTTP 503"],
    [new StoreRequestError("put", "k/1", "AccessDenied"), "STORE_REQUEST_FAILED", true, "AccessDenied"],
    [new InvalidKeyError("../x", "dot-dot"), "INVALID_KEY", true, "../x"],
    [new InvalidRangeError("k/1", "offset -1"), "INVALID_RANGE", true, "k/1"],
    [new CorruptObjectError("packs/ab/abc", "bad hash", 42), "CORRUPT_OBJECT", true, "at byte 42"],
    [new UnsupportedPackError("packs/ab/abc", "version 9"), "UNSUPPORTED_PACK", true, "version 9"],
    [new PackEntryNotFoundError("packs/ab/abc", "ff00"), "PACK_ENTRY_NOT_FOUND", true, "ff00"],
    [new RefConflictError("domains/web1", null, "v2"), "REF_CONFLICT", false, "domains/web1"],
    [new InvalidStoreUrlError("gs://x", "unknown scheme"), "INVALID_STORE_URL", true, "gs://x"],
    [new InvalidContentIdError("zz", "not hex"), "INVALID_CONTENT_ID", true, "zz"],
  ])("%s", (error, code, unrecoverable, inMessage) => {
    expect(error).toBeInstanceOf(XenfleetError);
    expect(error.code).toBe(code);
    expect(error.unrecoverable).toBe(unrecoverable);
    expect(error.message).toContain(inMessage);
    expect(error.name).toBe(error.constructor.name);
  });
});

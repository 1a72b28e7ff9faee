/**
 * The store header: one small unencrypted object, `xenfleet-store.json`,
 * saying what a store is before anything in it is read:
 *
 *   {"format":"xenfleet-store","version":1,"storeId":"<32 hex>","created":"<ISO 8601>",
 *    "encryption": null | {"scheme":"...", "keys":"keys/", ...the scheme's parameters}}
 *
 * A store without one is a plain store, as every store was before headers:
 * it keeps working unchanged. `xenfleet init` writes the header last, once
 * the key ring holds a key, so a half-made store never claims to be whole.
 */
import { randomBytes } from "node:crypto";
import { STORE_HEADER_NAME } from "./encrypted-store.js";
import { ObjectNotFoundError } from "./errors.js";
import { StoreExistsError, UnsupportedStoreError } from "./key-errors.js";
import type { ObjectStore } from "./object-store.js";

const HEADER_FORMAT = "xenfleet-store";
const HEADER_VERSION = 1;
/** A header larger than this is not one: read no further. */
const MAX_HEADER_BYTES = 64 * 1024;

export interface EncryptionHeader {
  /** The encryption scheme of the data (see encrypted-store.ts); an unknown one is refused. */
  readonly scheme: string;
  /** Where the wrapped master keys are (key-ring.ts). */
  readonly keys: string;
  readonly [parameter: string]: unknown;
}

export interface StoreHeader {
  readonly format: typeof HEADER_FORMAT;
  readonly version: typeof HEADER_VERSION;
  /** Random, per store: wrapped keys are bound to it. */
  readonly storeId: string;
  readonly created: string;
  readonly encryption: EncryptionHeader | null;
}

export function newStoreHeader(encryption: EncryptionHeader | null): StoreHeader {
  return {
    format: HEADER_FORMAT,
    version: HEADER_VERSION,
    storeId: randomBytes(16).toString("hex"),
    created: new Date().toISOString(),
    encryption,
  };
}

/** The store's header, or undefined for a store without one (a plain store). One GET. */
export async function readStoreHeader(store: ObjectStore): Promise<StoreHeader | undefined> {
  let bytes: Buffer;
  try {
    bytes = await store.get(STORE_HEADER_NAME, { offset: 0, length: MAX_HEADER_BYTES + 1 });
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
  const bad = (detail: string) => new UnsupportedStoreError(store.location, `${STORE_HEADER_NAME} ${detail}`);
  if (bytes.length > MAX_HEADER_BYTES) throw bad(`is larger than ${MAX_HEADER_BYTES} bytes`);
  let h: Partial<StoreHeader>;
  try {
    h = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw bad("is not JSON");
  }
  if (h === null || typeof h !== "object" || h.format !== HEADER_FORMAT)
    throw bad(`has no "format": "${HEADER_FORMAT}"`);
  if (h.version !== HEADER_VERSION)
    throw bad(
      `has version ${JSON.stringify(h.version)}, which this program does not read (it reads ${HEADER_VERSION})`,
    );
  if (typeof h.storeId !== "string" || !/^[0-9a-f]{32}$/.test(h.storeId)) throw bad("has no storeId");
  const e = h.encryption;
  if (e !== null && (typeof e !== "object" || typeof e?.scheme !== "string" || typeof e.keys !== "string"))
    throw bad("has an encryption field that is neither null nor {scheme, keys, ...}");
  return h as StoreHeader;
}

/** Writes the header; StoreExistsError when the store has one already (two inits raced). */
export async function writeStoreHeader(store: ObjectStore, header: StoreHeader): Promise<void> {
  const { created } = await store.put(STORE_HEADER_NAME, Buffer.from(`${JSON.stringify(header, null, 2)}\n`));
  if (!created) throw new StoreExistsError(store.location, `already has a header (${STORE_HEADER_NAME})`);
}

/**
 * What a store's header asks of whoever opens it: nothing for a plain store,
 * a key for an encrypted one. `unlockStore` reads the header (one small
 * GET), unwraps the master key with the key given and returns the store
 * seen through its encryption; `initStore` makes a new store, encrypted or
 * not.
 */
import { stat } from "node:fs/promises";
import { EncryptedStore } from "./encrypted-store.js";
import { AEAD, SEGMENT_BYTES } from "./encryption/format.js";
import {
  KeyRingError,
  StoreExistsError,
  StoreKeyMissingError,
  StoreNotEncryptedError,
  UnsupportedStoreError,
} from "./key-errors.js";
import { createKeyFile, readKeyFile } from "./key-file.js";
import { WRAPPED_KEYS_PREFIX } from "./encrypted-store.js";
import { KeyRing, newMasterKey, type KeyInfo, type KeySecret } from "./key-ring.js";
import type { ScryptParams } from "./key-wrap.js";
import type { ObjectStore } from "./object-store.js";
import { newStoreHeader, readStoreHeader, writeStoreHeader, type EncryptionHeader } from "./store-header.js";

/** The one encryption scheme this code writes and reads (encrypted-store.ts). */
export const ENCRYPTION_SCHEME = "xenfleet-encrypted-store-1";

/** The header's description of an encrypted store: the scheme and, for people, its parameters. */
export function encryptionHeader(): EncryptionHeader {
  return {
    scheme: ENCRYPTION_SCHEME,
    keys: WRAPPED_KEYS_PREFIX,
    aead: AEAD,
    segmentBytes: SEGMENT_BYTES,
    names: "keyed-permutation",
  };
}

/**
 * Where a store's key comes from: a key file, or a passphrase and the name
 * of where it was found (an environment variable; named in messages, the
 * passphrase never is).
 */
export type StoreKeySource = { readonly file: string } | { readonly passphrase: string; readonly source: string };

export function describeKeySource(key: StoreKeySource): string {
  return "file" in key ? `the key file ${key.file}` : `the passphrase in ${key.source}`;
}

/** The secret a key source holds: a key file is read (KeyFileError when it cannot be). */
export async function readKeySecret(key: StoreKeySource): Promise<KeySecret> {
  if ("file" in key) return { kind: "file", file: await readKeyFile(key.file) };
  return { kind: "passphrase", passphrase: key.passphrase, source: key.source };
}

export interface UnlockedStore {
  readonly store: ObjectStore;
  /** The key ring and the wrapping that opened it; undefined for a plain store. */
  readonly keys?: { readonly ring: KeyRing; readonly keyId: string; readonly masterKey: Buffer };
}

/**
 * The store as its header says to read it. A plain store (no header, or one
 * without encryption) is `inner` itself, and refuses a key
 * (StoreNotEncryptedError: a key accepted and ignored would hide a mistake).
 * An encrypted store needs one (StoreKeyMissingError) that opens it
 * (WrongKeyError).
 */
export async function unlockStore(inner: ObjectStore, key: StoreKeySource | undefined): Promise<UnlockedStore> {
  const header = await readStoreHeader(inner);
  const encryption = header?.encryption ?? null;
  if (header === undefined || encryption === null) {
    if (key !== undefined) throw new StoreNotEncryptedError(inner.location, describeKeySource(key));
    return { store: inner };
  }
  if (encryption.scheme !== ENCRYPTION_SCHEME)
    throw new UnsupportedStoreError(
      inner.location,
      `is encrypted with scheme ${JSON.stringify(encryption.scheme)}, which this program does not read (it reads ${ENCRYPTION_SCHEME})`,
    );
  if (key === undefined) throw new StoreKeyMissingError(inner.location);
  const ring = new KeyRing(inner, header.storeId, inner.location);
  const { masterKey, keyId } = await ring.unlock(await readKeySecret(key));
  return { store: new EncryptedStore(inner, masterKey), keys: { ring, keyId, masterKey } };
}

/** The key ring of an encrypted store (no key needed: listing keys reads only their metadata). */
export async function readKeyRing(inner: ObjectStore): Promise<KeyRing> {
  const header = await readStoreHeader(inner);
  if (header?.encryption == null) throw new KeyRingError(`store ${inner.location} is not encrypted: it has no keys`);
  return new KeyRing(inner, header.storeId, inner.location);
}

export interface InitStoreOptions {
  /** Make the store encrypted, its first key this key file (created when it does not exist) or passphrase. */
  readonly encrypt?: StoreKeySource;
  /** The first key's label. */
  readonly label?: string;
  /** A passphrase's scrypt cost (tests pass less than the default). */
  readonly scrypt?: ScryptParams;
}

export interface InitStoreResult {
  readonly location: string;
  readonly encrypted: boolean;
  readonly storeId: string;
  /** The first key, and whether its key file was made now. */
  readonly key?: KeyInfo & { readonly keyFileCreated: boolean };
}

/**
 * Makes `inner` a store with a header: encrypted (a new master key wrapped
 * by the key given) or plain. Refuses a store that has a header or holds
 * objects (StoreExistsError): an existing store's data is never re-read as
 * encrypted; it is copied into a new store (`xenfleet image copy`). The key
 * file is made only once the store is known to be empty, and the header is
 * written last: until then the store is no store at all.
 */
export async function initStore(inner: ObjectStore, options: InitStoreOptions = {}): Promise<InitStoreResult> {
  if ((await readStoreHeader(inner)) !== undefined)
    throw new StoreExistsError(inner.location, "already has a header: it was made before");
  const leftovers: string[] = [];
  for await (const entry of inner.list("")) {
    // Keys an init that died before its header left behind belong to no store: removed below.
    if (entry.key.startsWith(WRAPPED_KEYS_PREFIX)) {
      leftovers.push(entry.key);
      continue;
    }
    throw new StoreExistsError(
      inner.location,
      `already holds objects (${entry.key}, ...); copy its images into a new store with \`xenfleet image copy\``,
    );
  }
  for (const key of leftovers) await inner.delete(key);
  if (options.encrypt === undefined) {
    const header = newStoreHeader(null);
    await writeStoreHeader(inner, header);
    return { location: inner.location, encrypted: false, storeId: header.storeId };
  }
  const source = options.encrypt;
  let keyFileCreated = false;
  let secret: KeySecret;
  if ("file" in source && !(await exists(source.file))) {
    secret = { kind: "file", file: await createKeyFile(source.file) };
    keyFileCreated = true;
  } else secret = await readKeySecret(source);
  const header = newStoreHeader(encryptionHeader());
  const ring = new KeyRing(inner, header.storeId, inner.location);
  const info = await ring.add(newMasterKey(), secret, {
    ...(options.label === undefined ? {} : { label: options.label }),
    ...(options.scrypt === undefined ? {} : { scrypt: options.scrypt }),
  });
  await writeStoreHeader(inner, header);
  return { location: inner.location, encrypted: true, storeId: header.storeId, key: { ...info, keyFileCreated } };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

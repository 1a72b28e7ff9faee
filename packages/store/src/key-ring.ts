/**
 * The key ring of an encrypted store. The store's data is encrypted under
 * one random 32-byte master key, which never changes and is never stored in
 * the clear. The store keeps wrapped copies of it, one per key-encryption
 * key (a key file or a passphrase), as small JSON objects outside the
 * encrypted namespace:
 *
 *   keys/<id>  {"format":"xenfleet-wrapped-key","version":1,"id","kind":"file"|"passphrase",
 *               "created","label","host","kdf":{...},"aead":"aes-256-gcm","nonce","sealed"}
 *
 * A key file's wrapping is at its fingerprint (key-file.ts), a passphrase's
 * at a random id. Adding a key writes one object and removing one deletes
 * one: rotating the keys that open a store never rewrites its data.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { WRAPPED_KEYS_PREFIX } from "./encrypted-store.js";
import { MASTER_KEY_BYTES } from "./encryption/keys.js";
import { ObjectNotFoundError } from "./errors.js";
import { KeyRingError, WrongKeyError } from "./key-errors.js";
import type { KeyFile } from "./key-file.js";
import {
  DEFAULT_SCRYPT,
  deriveWrappingKey,
  newKdf,
  open,
  seal,
  validScrypt,
  WRAP_AEAD,
  type Kdf,
  type ScryptParams,
} from "./key-wrap.js";
import type { ObjectStore } from "./object-store.js";

const WRAPPED_FORMAT = "xenfleet-wrapped-key";
const WRAPPED_VERSION = 1;
const ID = /^[0-9a-f]{16}$/;

/** What unlocks a store: a key file, or a passphrase and where it came from (for messages; never the passphrase). */
export type KeySecret =
  | { readonly kind: "file"; readonly file: KeyFile }
  | { readonly kind: "passphrase"; readonly passphrase: string; readonly source: string };

export interface KeyInfo {
  readonly id: string;
  readonly kind: "file" | "passphrase";
  readonly created: Date;
  readonly label: string;
  /** The machine the key was added on. */
  readonly host: string;
}

interface WrappedKey {
  readonly format: typeof WRAPPED_FORMAT;
  readonly version: typeof WRAPPED_VERSION;
  readonly id: string;
  readonly kind: "file" | "passphrase";
  readonly created: string;
  readonly label: string;
  readonly host: string;
  readonly kdf: Kdf;
  readonly aead: typeof WRAP_AEAD;
  readonly nonce: string;
  readonly sealed: string;
}

export interface AddKeyOptions {
  readonly label?: string;
  readonly host?: string;
  /** A passphrase's scrypt cost; default DEFAULT_SCRYPT (tests pass less). */
  readonly scrypt?: ScryptParams;
}

/** How a secret is named in messages. */
export function describeSecret(secret: KeySecret): string {
  return secret.kind === "file" ? `the key file ${secret.file.path}` : `the passphrase in ${secret.source}`;
}

export function newMasterKey(): Buffer {
  return randomBytes(MASTER_KEY_BYTES);
}

export class KeyRing {
  /**
   * @param store the store's own (inner, unencrypted) object store
   * @param storeId the id in the store's header: a wrapping opens only in the store it was made for
   */
  constructor(
    private readonly store: ObjectStore,
    private readonly storeId: string,
    private readonly location: string,
  ) {}

  /** Every key that opens the store, oldest first. Needs no key: the metadata is not secret. */
  async list(): Promise<KeyInfo[]> {
    const out: KeyInfo[] = [];
    for await (const entry of this.store.list(WRAPPED_KEYS_PREFIX)) {
      const wrapped = await this.read(entry.key.slice(WRAPPED_KEYS_PREFIX.length));
      if (wrapped !== undefined) out.push(infoOf(wrapped));
    }
    return out.sort((a, b) => a.created.getTime() - b.created.getTime() || (a.id < b.id ? -1 : 1));
  }

  /** Wraps `masterKey` under `secret` and stores it. A key file that already opens the store is KeyRingError. */
  async add(masterKey: Uint8Array, secret: KeySecret, options: AddKeyOptions = {}): Promise<KeyInfo> {
    const id = secret.kind === "file" ? secret.file.id : randomBytes(8).toString("hex");
    const kdf = newKdf(secret.kind, options.scrypt ?? DEFAULT_SCRYPT);
    const meta = {
      id,
      kind: secret.kind,
      created: new Date().toISOString(),
      label: options.label ?? "",
      host: options.host ?? hostname(),
      kdf,
    };
    const wrappingKey = await deriveWrappingKey(secretBytes(secret), kdf);
    const sealed = seal(wrappingKey, masterKey, this.associatedData(meta));
    const wrapped: WrappedKey = {
      format: WRAPPED_FORMAT,
      version: WRAPPED_VERSION,
      ...meta,
      aead: WRAP_AEAD,
      ...sealed,
    };
    const { created } = await this.store.put(WRAPPED_KEYS_PREFIX + id, Buffer.from(`${JSON.stringify(wrapped)}\n`));
    if (!created) throw new KeyRingError(`${describeSecret(secret)} already opens store ${this.location} (key ${id})`);
    return infoOf(wrapped);
  }

  /**
   * The master key `secret` unwraps, and the id of the wrapping that gave it.
   * WrongKeyError when no wrapping opens under it. A passphrase is tried
   * against every passphrase wrapping (a store has a few).
   */
  async unlock(secret: KeySecret): Promise<{ masterKey: Buffer; keyId: string }> {
    const candidates: WrappedKey[] = [];
    if (secret.kind === "file") {
      const wrapped = await this.read(secret.file.id);
      if (wrapped === undefined)
        throw new WrongKeyError(
          describeSecret(secret),
          this.location,
          "the store holds no wrapping for it (`xenfleet key list` shows the keys that open it)",
        );
      candidates.push(wrapped);
    } else {
      for await (const entry of this.store.list(WRAPPED_KEYS_PREFIX)) {
        const wrapped = await this.read(entry.key.slice(WRAPPED_KEYS_PREFIX.length));
        if (wrapped?.kind === "passphrase") candidates.push(wrapped);
      }
    }
    for (const wrapped of candidates) {
      if (wrapped.kind !== secret.kind) continue;
      const wrappingKey = await deriveWrappingKey(secretBytes(secret), wrapped.kdf);
      const masterKey = open(wrappingKey, wrapped, this.associatedData(wrapped));
      if (masterKey?.length === MASTER_KEY_BYTES) return { masterKey, keyId: wrapped.id };
    }
    throw new WrongKeyError(
      describeSecret(secret),
      this.location,
      candidates.length === 0
        ? "the store has no passphrase"
        : "authentication failed (a wrong key, or a wrapping that was altered)",
    );
  }

  /**
   * Removes the wrapping `id`. Refused (KeyRingError) when the store has no
   * such key, when it is the last one, or when it is `unlockedWith`, the key
   * the caller proved it holds: another key must be shown to still open the
   * store, so a removal can never lock everyone out.
   */
  async remove(id: string, unlockedWith: string): Promise<void> {
    const keys = await this.list();
    if (!keys.some((k) => k.id === id)) throw new KeyRingError(`store ${this.location} has no key ${id}`);
    if (keys.length === 1) throw new KeyRingError(`key ${id} is the last key of store ${this.location}; not removed`);
    if (id === unlockedWith)
      throw new KeyRingError(
        `key ${id} is the key given to unlock store ${this.location}; unlock with another to remove it`,
      );
    await this.store.delete(WRAPPED_KEYS_PREFIX + id);
  }

  /** The wrapping `id`, or undefined when there is none; one that is not a wrapping this code reads is KeyRingError. */
  private async read(id: string): Promise<WrappedKey | undefined> {
    if (!ID.test(id)) return undefined;
    let bytes: Buffer;
    try {
      bytes = await this.store.get(WRAPPED_KEYS_PREFIX + id);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return undefined;
      throw err;
    }
    const wrapped = parseWrapped(bytes);
    if (wrapped === undefined || wrapped.id !== id)
      throw new KeyRingError(
        `${WRAPPED_KEYS_PREFIX}${id} in store ${this.location} is not a wrapped key this program reads`,
      );
    return wrapped;
  }

  /** Everything but the sealed bytes, bound to this store: a wrapping edited or moved fails to open. */
  private associatedData(meta: Pick<WrappedKey, "id" | "kind" | "created" | "label" | "host" | "kdf">): Buffer {
    const { id, kind, created, label, host, kdf } = meta;
    return Buffer.from(
      JSON.stringify([WRAPPED_FORMAT, WRAPPED_VERSION, this.storeId, id, kind, created, label, host, kdf]),
    );
  }
}

function secretBytes(secret: KeySecret): Buffer {
  return secret.kind === "file" ? secret.file.kek : Buffer.from(secret.passphrase.normalize("NFC"), "utf8");
}

function infoOf(w: WrappedKey): KeyInfo {
  return { id: w.id, kind: w.kind, created: new Date(w.created), label: w.label, host: w.host };
}

function parseWrapped(bytes: Buffer): WrappedKey | undefined {
  let w: Partial<WrappedKey> & { kdf?: Partial<Kdf> & Partial<ScryptParams> };
  try {
    w = JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
  if (w === null || typeof w !== "object") return undefined;
  if (w.format !== WRAPPED_FORMAT || w.version !== WRAPPED_VERSION || w.aead !== WRAP_AEAD) return undefined;
  if (typeof w.id !== "string" || (w.kind !== "file" && w.kind !== "passphrase")) return undefined;
  if (typeof w.created !== "string" || Number.isNaN(Date.parse(w.created))) return undefined;
  if (typeof w.label !== "string" || typeof w.host !== "string") return undefined;
  if (typeof w.nonce !== "string" || typeof w.sealed !== "string") return undefined;
  const kdf = w.kdf;
  if (kdf === undefined || kdf === null || typeof kdf.salt !== "string") return undefined;
  if (w.kind === "file" && kdf.name !== "hkdf-sha256") return undefined;
  if (w.kind === "passphrase" && (kdf.name !== "scrypt" || !validScrypt(kdf as ScryptParams))) return undefined;
  return w as WrappedKey;
}

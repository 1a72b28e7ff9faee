import { hkdfSync } from "node:crypto";
import { InvalidMasterKeyError } from "../errors.js";

/** A repository master key is 32 random bytes; everything else is derived from it. */
export const MASTER_KEY_BYTES = 32;

/** The keys an encrypted store works with, each derived from the master key for one purpose. */
export interface StoreKeys {
  /** Root of the per-object content keys (see format.ts). */
  readonly content: Buffer;
  /** Key of the name permutation (see names.ts). */
  readonly names: Buffer;
  /** A short public fingerprint of the master key, written in every object header: "another key" is then told apart from tampering. */
  readonly keyId: Buffer;
}

/**
 * HKDF-SHA256 of the master key with a distinct label per use, so that no
 * key ever serves two purposes and learning one (the key id is public)
 * tells nothing of the others.
 */
export function deriveStoreKeys(masterKey: Uint8Array): StoreKeys {
  if (!(masterKey instanceof Uint8Array) || masterKey.length !== MASTER_KEY_BYTES) {
    throw new InvalidMasterKeyError(masterKey instanceof Uint8Array ? masterKey.length : 0);
  }
  const derive = (label: string, bytes: number) =>
    Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), `xenfleet store v1 ${label}`, bytes));
  return { content: derive("content", 32), names: derive("names", 32), keyId: derive("key id", 8) };
}

/**
 * The public fingerprint of a master key (16 hex digits), as every object
 * header records it: a store header can keep it to tell "this is not the
 * store's key" before any object is read.
 */
export function masterKeyId(masterKey: Uint8Array): string {
  return deriveStoreKeys(masterKey).keyId.toString("hex");
}

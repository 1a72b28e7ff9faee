/**
 * Sealing a store's master key under a key-encryption key (KEK): a key
 * file's random 32 bytes, or a passphrase. Every wrapping derives its own
 * wrapping key from the secret and a fresh random salt (HKDF-SHA256 for a
 * key file, scrypt for a passphrase), so each wrapping key seals exactly one
 * message and an AES-GCM nonce can never repeat under it, however many
 * stores one key file unlocks. The wrapping's metadata is the associated
 * data: a wrapping moved to another store or id, or edited, fails to open.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from "node:crypto";

export const WRAP_AEAD = "aes-256-gcm";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const SALT_BYTES = 32;

/** scrypt's cost: N (CPU and memory), r (block size), p (parallelism). Memory is 128 * N * r bytes. */
export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** 128 MiB and about half a second per try on one core: a guessed passphrase costs an attacker the same. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
/** Bounds on the parameters a wrapping may ask for, so a forged one cannot make an unlock take all memory. */
const MAX_SCRYPT_MEMORY = 1024 * 2 ** 20;
const MAX_SCRYPT_P = 16;

export type Kdf =
  | { readonly name: "hkdf-sha256"; readonly salt: string }
  | ({ readonly name: "scrypt"; readonly salt: string } & ScryptParams);

/** True when `params` are a power-of-two N and within the memory bound. */
export function validScrypt(params: ScryptParams): boolean {
  const { N, r, p } = params;
  return (
    Number.isInteger(N) &&
    Number.isInteger(r) &&
    Number.isInteger(p) &&
    N >= 2 &&
    (N & (N - 1)) === 0 &&
    r >= 1 &&
    p >= 1 &&
    p <= MAX_SCRYPT_P &&
    128 * N * r <= MAX_SCRYPT_MEMORY
  );
}

/** The 32-byte wrapping key `secret` gives under `kdf`. */
export async function deriveWrappingKey(secret: Uint8Array, kdf: Kdf): Promise<Buffer> {
  const salt = Buffer.from(kdf.salt, "base64");
  if (kdf.name === "hkdf-sha256") return Buffer.from(hkdfSync("sha256", secret, salt, "xenfleet key wrapping", 32));
  const { N, r, p } = kdf;
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, 32, { N, r, p, maxmem: 256 * N * r + 128 * r * p + 2 ** 20 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** A fresh kdf description for a key file (`file`) or a passphrase. */
export function newKdf(kind: "file" | "passphrase", scryptParams: ScryptParams = DEFAULT_SCRYPT): Kdf {
  const salt = randomBytes(SALT_BYTES).toString("base64");
  return kind === "file" ? { name: "hkdf-sha256", salt } : { name: "scrypt", salt, ...scryptParams };
}

export interface Sealed {
  readonly nonce: string;
  /** Ciphertext then the 16-byte tag, base64. */
  readonly sealed: string;
}

export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Sealed {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(WRAP_AEAD, key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce: nonce.toString("base64"), sealed: body.toString("base64") };
}

/** The plaintext, or undefined when the tag does not verify (a wrong key, or edited metadata or bytes). */
export function open(key: Uint8Array, sealed: Sealed, aad: Uint8Array): Buffer | undefined {
  const nonce = Buffer.from(sealed.nonce, "base64");
  const body = Buffer.from(sealed.sealed, "base64");
  if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) return undefined;
  const decipher = createDecipheriv(WRAP_AEAD, key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

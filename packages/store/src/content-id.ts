import { createHash } from "node:crypto";
import { InvalidContentIdError } from "./errors.js";

/**
 * A content id is the hash of some bytes, written as 64 lowercase hex digits.
 * Two algorithms are in use: SHA-256 names whole objects (packs, manifests:
 * the store key of an object is derived from it) and BLAKE3 names pages (the
 * native addon hashes pages in batches). The algorithm is part of the type,
 * so a page id cannot be passed where an object id is wanted; at run time
 * the algorithm is stated wherever ids are stored (e.g. in each pack header).
 */
export type HashAlgorithm = "sha256" | "blake3";

declare const contentIdBrand: unique symbol;
export type ContentId<A extends HashAlgorithm = HashAlgorithm> = string & { readonly [contentIdBrand]: A };

/** Both algorithms produce 32-byte digests. */
export const CONTENT_ID_BYTES = 32;

const HEX64 = /^[0-9a-f]{64}$/;

/** Checks `text` is 64 lowercase hex digits and brands it as an id of `algorithm`. */
export function parseContentId<A extends HashAlgorithm>(algorithm: A, text: string): ContentId<A> {
  if (typeof text !== "string") throw new InvalidContentIdError(String(text), "not a string");
  if (!HEX64.test(text)) throw new InvalidContentIdError(text, `a ${algorithm} id is 64 lowercase hex digits`);
  return text as ContentId<A>;
}

/** The id whose digest is these 32 bytes. */
export function contentIdFromBytes<A extends HashAlgorithm>(algorithm: A, digest: Uint8Array): ContentId<A> {
  if (digest.length !== CONTENT_ID_BYTES) {
    throw new InvalidContentIdError(`<${digest.length} bytes>`, `a ${algorithm} digest is ${CONTENT_ID_BYTES} bytes`);
  }
  return Buffer.from(digest.buffer, digest.byteOffset, digest.length).toString("hex") as ContentId<A>;
}

/** The 32 digest bytes of an id. */
export function contentIdToBytes(id: ContentId): Buffer {
  return Buffer.from(id, "hex");
}

/** The first 8 hex digits, for logs and messages; never used to look anything up. */
export function shortId(id: ContentId): string {
  return id.slice(0, 8);
}

/** SHA-256 of `data` as an object id. */
export function sha256Id(data: Uint8Array): ContentId<"sha256"> {
  return createHash("sha256").update(data).digest("hex") as ContentId<"sha256">;
}

/**
 * A function computing a digest. SHA-256 is built in; BLAKE3 comes from the
 * native addon, and readers that verify BLAKE3 ids take it as a parameter so
 * this package does not depend on the addon.
 */
export type Hasher = (data: Uint8Array) => Uint8Array;

export const sha256Hasher: Hasher = (data) => createHash("sha256").update(data).digest();

/**
 * The store key for a whole object named by its SHA-256: `<kind>/<first two
 * hex digits>/<id>`. The two-digit fan-out keeps any one directory of the
 * filesystem backend to about 1/256 of the objects of a kind.
 */
export function contentKey(kind: string, id: ContentId<"sha256">): string {
  return `${kind}/${id.slice(0, 2)}/${id}`;
}

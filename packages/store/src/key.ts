import { InvalidKeyError } from "./errors.js";

/**
 * Key rules, shared by every backend so a key valid on one is valid on all:
 * - segments separated by "/", none empty (no leading or trailing "/", no "//");
 * - segment characters A-Z a-z 0-9 "." "_" "-";
 * - no segment starts with "." (so no "." or ".." and no hidden files: the
 *   filesystem backend keeps its temp and lock files in dot-directories that
 *   no key can name);
 * - at most MAX_KEY_LENGTH characters, and MAX_SEGMENT_LENGTH per segment
 *   (a segment is a file name on the filesystem backend).
 * The charset is ASCII, so character order is byte order on every backend.
 */
export const MAX_KEY_LENGTH = 512;
/** Below the usual 255-byte file name limit, leaving room for backends that store a segment with a suffix. */
export const MAX_SEGMENT_LENGTH = 200;

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** The reserved prefix of mutable refs; the immutable-object writes refuse it. */
export const REFS_PREFIX = "refs/";

/** Returns `key` if it follows the key rules, else throws InvalidKeyError. */
export function validateKey(key: string): string {
  if (typeof key !== "string") throw new InvalidKeyError(String(key), "not a string");
  if (key.length === 0) throw new InvalidKeyError(key, "empty");
  if (key.length > MAX_KEY_LENGTH) throw new InvalidKeyError(key, `longer than ${MAX_KEY_LENGTH} characters`);
  if (key.startsWith("/")) throw new InvalidKeyError(key, "leading '/'");
  for (const segment of key.split("/")) {
    if (segment.length === 0) throw new InvalidKeyError(key, "empty segment");
    if (segment.length > MAX_SEGMENT_LENGTH)
      throw new InvalidKeyError(key, `segment longer than ${MAX_SEGMENT_LENGTH} characters`);
    if (segment === "." || segment === "..") throw new InvalidKeyError(key, "'.' or '..' segment");
    if (!SEGMENT.test(segment)) {
      throw new InvalidKeyError(key, "segments use only A-Z a-z 0-9 . _ - and do not start with '.'");
    }
  }
  return key;
}

/**
 * A list prefix is "" (everything) or a key, optionally followed by "/";
 * it matches by plain string prefix, as S3 does ("packs/a" matches "packs/ab/...").
 */
export function validatePrefix(prefix: string): string {
  if (prefix === "") return prefix;
  validateKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}

/** For put and delete: a valid key outside the refs/ namespace. */
export function validateObjectKey(key: string): string {
  validateKey(key);
  if (key.startsWith(REFS_PREFIX)) throw new InvalidKeyError(key, "refs/ holds mutable refs; use putRef/deleteRef");
  return key;
}

/** A ref name is a valid key; the ref lives at refs/<name>. */
export function refKey(name: string): string {
  validateKey(name);
  return validateKey(REFS_PREFIX + name);
}

/** Key order: the byte order of the (ASCII) key, which is what S3 listings use. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

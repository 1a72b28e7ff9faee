/**
 * Every store key the image layer uses, in one place.
 *
 *   manifests/<ab>/<sha256>        image manifest (the image id is this sha256)
 *   blocks/<ab>/<sha256>           page list block
 *   packs/<ab>/<sha256>            pack of pages (format owned by @xenfleet/store)
 *   forwards/<ab>/<old pack id>    write-once: old pack -> its rewritten (compressed) pack
 *   hooks/<hook>/<block id>        sparse index entry: a block holds a page whose digest starts with <hook>
 *   locks/<lock id>                a process's shared (import) or exclusive (GC sweep) lock
 *   refs/images/<domain>/<image id>  the domain holds this image (the only mutable names)
 */
import { contentKey, packKey, parseContentId, type ContentId } from "@xenfleet/store";
import { ImageUsageError } from "./errors.js";

export type Sha256Id = ContentId<"sha256">;

export const MANIFESTS = "manifests/";
export const BLOCKS = "blocks/";
export const PACKS = "packs/";
export const FORWARDS = "forwards/";
export const HOOKS = "hooks/";
export const LOCKS = "locks/";
/** Ref-name prefix (under the store's refs/) of domain -> image refs. */
export const IMAGE_REFS = "images/";

export const manifestKey = (id: Sha256Id): string => contentKey("manifests", id);
export const blockKey = (id: Sha256Id): string => contentKey("blocks", id);
export { packKey };
export const forwardKey = (oldPack: Sha256Id): string => contentKey("forwards", oldPack);
export const hookPrefix = (hook: string): string => `${HOOKS}${hook}/`;
export const hookKey = (hook: string, block: Sha256Id): string => `${HOOKS}${hook}/${block}`;
export const lockKey = (lockId: string): string => `${LOCKS}${lockId}`;

/** The id at the end of a content key (`<kind>/<ab>/<id>`), or undefined if the key is not one. */
export function idFromKey(key: string): Sha256Id | undefined {
  const last = key.slice(key.lastIndexOf("/") + 1);
  return /^[0-9a-f]{64}$/.test(last) ? (last as Sha256Id) : undefined;
}

/** Checks an image id given by a user (64 hex digits). */
export function parseImageId(text: string): Sha256Id {
  try {
    return parseContentId("sha256", text.toLowerCase());
  } catch {
    throw new ImageUsageError(`not an image id: ${JSON.stringify(text)} (64 hex digits)`);
  }
}

/**
 * A domain name as one key segment: a name of key-safe characters is used
 * as it is; any other name is written as "x-" and the hex of its UTF-8
 * bytes. Names that themselves start with "x-" are encoded too, so the
 * mapping stays one-to-one.
 */
export function domainSegment(domain: string): string {
  if (domain.length === 0) throw new ImageUsageError("a domain name is not empty");
  if (/^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/.test(domain) && !domain.startsWith("x-")) return domain;
  const hex = Buffer.from(domain, "utf8").toString("hex");
  if (hex.length > 190) throw new ImageUsageError(`domain name too long: ${domain.slice(0, 40)}...`);
  return `x-${hex}`;
}

export function domainFromSegment(segment: string): string {
  return segment.startsWith("x-") ? Buffer.from(segment.slice(2), "hex").toString("utf8") : segment;
}

export const domainRefPrefix = (domain: string): string => `${IMAGE_REFS}${domainSegment(domain)}/`;
export const imageRefName = (domain: string, image: Sha256Id): string => `${domainRefPrefix(domain)}${image}`;

/**
 * Each image's last verification, kept in the store beside it as the ref
 * refs/verified/<image id>: when, whether it passed, how much was read,
 * and what was wrong. `image verify` and verify jobs write it; `image ls`
 * shows it; a verify job skips images verified within its window.
 *
 * A verification that finds an object corrupt moves it aside
 * (quarantine.ts); an image that needs an object already moved aside is
 * broken for that reason. Errors that say nothing about the image (the
 * store unreachable, an abort) record nothing and are thrown.
 */
import type { ObjectStore } from "@xenfleet/store";
import { ImageCorruptError, ImageNotFoundError, ImageObjectMissingError, UnsupportedFormatError } from "./errors.js";
import { verifyImage, type ExportOptions } from "./exporter.js";
import { manifestKey, type Sha256Id } from "./keys.js";
import { listImageRefs } from "./refs.js";
import { damageOf, quarantineObject } from "./quarantine.js";

/** Ref-name prefix (under the store's refs/) of verification records. */
export const VERIFIED_REFS = "verified/";

export interface Verification {
  readonly at: string;
  readonly ok: boolean;
  /** Bytes of the image's stream read and checked (all of them when ok). */
  readonly bytes: number;
  readonly seconds: number;
  /** When not ok: the object at fault and why. */
  readonly problem?: { readonly key: string; readonly reason: string };
}

const verifiedRef = (id: Sha256Id) => `${VERIFIED_REFS}${id}`;

/** Verifies the image, moves a corrupt object aside, records the result and returns it. */
export async function verifyAndRecord(
  store: ObjectStore,
  imageId: Sha256Id,
  options: ExportOptions = {},
): Promise<Verification> {
  const started = performance.now();
  let bytes = 0;
  const onProgress: ExportOptions["onProgress"] = (p) => {
    bytes = p.bytes;
    options.onProgress?.(p);
  };
  let result: Verification;
  try {
    const r = await verifyImage(store, imageId, { ...options, onProgress });
    result = { at: new Date().toISOString(), ok: true, bytes: r.bytes, seconds: r.seconds };
  } catch (err) {
    const problem = await problemOf(store, err);
    const seconds = (performance.now() - started) / 1000;
    result = { at: new Date().toISOString(), ok: false, bytes, seconds, problem };
  }
  await store.putRef(verifiedRef(imageId), Buffer.from(JSON.stringify(result)));
  return result;
}

export async function readVerification(store: ObjectStore, imageId: Sha256Id): Promise<Verification | undefined> {
  const value = await store.getRef(verifiedRef(imageId));
  return value === undefined ? undefined : (JSON.parse(value.data.toString("utf8")) as Verification);
}

/** Every image's last verification, by image id. */
export async function listVerifications(store: ObjectStore): Promise<Map<Sha256Id, Verification>> {
  const out = new Map<Sha256Id, Verification>();
  for await (const e of store.listRefs(VERIFIED_REFS)) {
    const id = e.key.slice(VERIFIED_REFS.length) as Sha256Id;
    const v = await readVerification(store, id).catch(() => undefined);
    if (v !== undefined) out.set(id, v);
  }
  return out;
}

/** The object at fault: moved aside when corrupt; an error about no object is thrown. */
async function problemOf(store: ObjectStore, err: unknown): Promise<{ key: string; reason: string }> {
  if (err instanceof ImageCorruptError) {
    const moved = await quarantineObject(store, err.key, err.detail);
    const where = moved === undefined ? "intact when read again, left in place" : "moved aside";
    return { key: err.key, reason: `corrupt (${where}): ${err.detail}` };
  }
  if (err instanceof ImageObjectMissingError) {
    const damage = await damageOf(store, err.key);
    return { key: err.key, reason: damage === undefined ? "missing" : `damaged: ${damage.reason}` };
  }
  // No manifest: a broken image if a ref holds it, else no image at all (nothing to record).
  if (err instanceof ImageNotFoundError && (await listImageRefs(store)).some((r) => r.id === err.imageId))
    return { key: manifestKey(err.imageId as Sha256Id), reason: "missing" };
  if (err instanceof UnsupportedFormatError) return { key: err.key, reason: `unreadable: ${err.detail}` };
  throw err;
}

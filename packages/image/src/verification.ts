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
import { checkStore, type CheckSubset } from "./check.js";
import { verifyImage, type ExportOptions } from "./exporter.js";
import { manifestKey, type Sha256Id } from "./keys.js";
import { listImageRefs } from "./refs.js";
import { damageOf, quarantineObject } from "./quarantine.js";

/** Ref-name prefix (under the store's refs/) of verification records. */
export const VERIFIED_REFS = "verified/";

export interface Verification {
  readonly at: string;
  readonly ok: boolean;
  /** Bytes read and checked: the image's stream (all of it when ok), or with a subset the bytes of the packs read. */
  readonly bytes: number;
  readonly seconds: number;
  /** When not ok: the object at fault and why. */
  readonly problem?: { readonly key: string; readonly reason: string };
  /** Set when only a slice of the image's packs was read ("1/7", "10%"): what was read. */
  readonly subset?: string;
}

export interface VerifyOptions extends ExportOptions {
  /**
   * Read only this slice of the image's packs (check.ts's subset: by pack
   * id, so the same slice reads the same packs) and every page in them;
   * the image's manifest, blocks and every pack's index are still checked.
   */
  readonly subset?: CheckSubset;
}

const verifiedRef = (id: Sha256Id) => `${VERIFIED_REFS}${id}`;

/** Verifies the image, moves a corrupt object aside, records the result and returns it. */
export async function verifyAndRecord(
  store: ObjectStore,
  imageId: Sha256Id,
  options: VerifyOptions = {},
): Promise<Verification> {
  const result =
    options.subset === undefined
      ? await verifyWhole(store, imageId, options)
      : await verifySlice(store, imageId, options.subset, options.signal);
  await store.putRef(verifiedRef(imageId), Buffer.from(JSON.stringify(result)));
  return result;
}

async function verifyWhole(store: ObjectStore, imageId: Sha256Id, options: ExportOptions): Promise<Verification> {
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
  return result;
}

/** The image's structure, and a slice of its packs read and hashed: check.ts on this one image, corrupt objects moved aside. */
async function verifySlice(
  store: ObjectStore,
  imageId: Sha256Id,
  subset: CheckSubset,
  signal: AbortSignal | undefined,
): Promise<Verification> {
  const started = performance.now();
  const r = await checkStore(store, {
    images: [imageId],
    readData: true,
    subset,
    moveAside: true,
    ...(signal === undefined ? {} : { signal }),
  });
  const first = r.problems[0];
  return {
    at: new Date().toISOString(),
    ok: first === undefined,
    bytes: r.dataRead.bytes,
    seconds: (performance.now() - started) / 1000,
    ...(first === undefined ? {} : { problem: { key: first.key, reason: first.reason } }),
    subset: "of" in subset ? `${subset.n}/${subset.of}` : `${subset.percent}%`,
  };
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

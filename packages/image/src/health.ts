/**
 * Each image's last health check, kept beside its verification as the ref
 * refs/health/<image id>: when, on which host, whether a restored copy of
 * the image reached running (and, where the hypervisor can read guest
 * memory, reproduced the state its save recorded), why not, and how long
 * it took. A health check job writes it; `image ls` shows it; GC removes
 * it with the image.
 */
import type { ObjectStore } from "@xenfleet/store";
import type { Sha256Id } from "./keys.js";

/** Ref-name prefix (under the store's refs/) of health check records. */
export const HEALTH_REFS = "health/";

/**
 * What the copy's state digest said: equal to the one the save recorded;
 * different; none recorded (an imported image, a backend that cannot tell);
 * or the backend cannot read guest memory (Xen).
 */
export type HealthDigest = "matched" | "differs" | "not-recorded" | "not-readable";

export interface HealthCheck {
  readonly at: string;
  readonly host: string;
  readonly passed: boolean;
  readonly reason?: string;
  readonly digest: HealthDigest;
  readonly seconds: number;
}

const healthRef = (id: Sha256Id) => `${HEALTH_REFS}${id}`;

export async function recordHealthCheck(store: ObjectStore, imageId: Sha256Id, check: HealthCheck): Promise<void> {
  await store.putRef(healthRef(imageId), Buffer.from(JSON.stringify(check)));
}

export async function readHealthCheck(store: ObjectStore, imageId: Sha256Id): Promise<HealthCheck | undefined> {
  const value = await store.getRef(healthRef(imageId));
  return value === undefined ? undefined : (JSON.parse(value.data.toString("utf8")) as HealthCheck);
}

/** Every image's last health check, by image id. */
export async function listHealthChecks(store: ObjectStore): Promise<Map<Sha256Id, HealthCheck>> {
  const out = new Map<Sha256Id, HealthCheck>();
  for await (const e of store.listRefs(HEALTH_REFS)) {
    const id = e.key.slice(HEALTH_REFS.length) as Sha256Id;
    const h = await readHealthCheck(store, id).catch(() => undefined);
    if (h !== undefined) out.set(id, h);
  }
  return out;
}

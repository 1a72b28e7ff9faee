/**
 * A health check: does an image come back as a running domain? The image is
 * restored as a paused copy under a unique name and a new uuid (so it never
 * collides with the original, which may be running on the same host), its
 * state digest is compared with the one its save recorded (where the
 * hypervisor can read guest memory: the sim; Xen cannot, and says so), and
 * it is unpaused and must be running. The copy is destroyed afterwards,
 * whatever happened: on success, on failure and when the deadline passes.
 *
 * The verdict is the result: an image that does not restore fails the
 * check, with the reason. Only errors that say nothing about the image (no
 * room on the host, the job itself stopped) are thrown.
 */
import { randomUUID } from "node:crypto";
import { findDomain, NotSupportedError, type Hypervisor } from "@xenfleet/hypervisor";
import { loadManifest, parseImageId, type HealthDigest } from "@xenfleet/image";
import type { ObjectStore } from "@xenfleet/store";
import { formatDuration } from "@xenfleet/core";
import { NoRoomError } from "./errors.js";
import { restoreImage } from "./restore-image.js";

export interface HealthCheckInput {
  hypervisor: Hypervisor;
  store: ObjectStore;
  /** This host's id, for messages. */
  host: string;
  imageId: string;
  /** The copy must be running within this long of the start. */
  deadlineMs: number;
  signal?: AbortSignal;
}

export interface HealthCheckOutcome {
  passed: boolean;
  reason?: string;
  digest: HealthDigest;
  seconds: number;
  /** The copy that was made and destroyed. */
  copy: { uuid: string; name: string };
}

export async function healthCheck(input: HealthCheckInput): Promise<HealthCheckOutcome> {
  const started = performance.now();
  const uuid = randomUUID();
  const copy = { uuid, name: `healthcheck-${uuid.slice(0, 8)}` };
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), input.deadlineMs);
  const signal = input.signal === undefined ? deadline.signal : AbortSignal.any([input.signal, deadline.signal]);
  let digest: HealthDigest = "not-recorded";
  const verdict = (reason?: string): HealthCheckOutcome => ({
    passed: reason === undefined,
    ...(reason === undefined ? {} : { reason }),
    digest,
    seconds: (performance.now() - started) / 1000,
    copy,
  });
  try {
    const imageId = parseImageId(input.imageId);
    const recorded = (await loadManifest(input.store, imageId)).stateDigest;
    await restoreImage({
      hypervisor: input.hypervisor,
      store: input.store,
      host: input.host,
      imageId,
      name: copy.name,
      uuid,
      paused: true,
      recordOrigin: false,
      signal,
    });
    // Compared while paused: a running guest changes its memory.
    digest = await compareDigest(input.hypervisor, uuid, recorded);
    if (digest === "differs") return verdict("the copy's state digest differs from the one its save recorded");
    signal.throwIfAborted();
    await input.hypervisor.unpause(uuid);
    const state = (await input.hypervisor.domainInfo(uuid)).state;
    return verdict(state === "running" ? undefined : `the copy is ${state} after unpause, not running`);
  } catch (err) {
    if (input.signal?.aborted || err instanceof NoRoomError) throw err;
    if (deadline.signal.aborted)
      return verdict(`not running within the deadline of ${formatDuration(input.deadlineMs)}`);
    return verdict(`restore failed: ${(err as Error).message}`.slice(0, 1024));
  } finally {
    clearTimeout(timer);
    await destroyCopy(input.hypervisor, uuid);
  }
}

async function compareDigest(
  hypervisor: Hypervisor,
  uuid: string,
  recorded: string | undefined,
): Promise<HealthDigest> {
  if (recorded === undefined) return "not-recorded";
  try {
    return (await hypervisor.digest(uuid)).digest === recorded ? "matched" : "differs";
  } catch (err) {
    if (err instanceof NotSupportedError) return "not-readable";
    throw err;
  }
}

/** Destroys the copy if it exists (a failed restore leaves none, by the hypervisor's contract; this makes sure). */
async function destroyCopy(hypervisor: Hypervisor, uuid: string): Promise<void> {
  if ((await findDomain(hypervisor, uuid)) !== undefined) await hypervisor.destroy(uuid);
}

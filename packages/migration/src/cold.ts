/**
 * Cold migration: through the store instead of a connection, for a domain
 * that is not running or hosts with no direct path. The source pauses the
 * domain and saves it as an image with the fleet's save pipeline
 * (`saveDomain`: incremental against the domain's previous image, so pages
 * unchanged since then cost nothing); the target restores that image paused
 * (`restoreImage`: every page checked against its hash, the whole stream
 * against the manifest's SHA-256, before the domain is built). Then the
 * same commit rule as live migration (commit.ts) decides, with the
 * migration record as the only channel: the sender writes "committed", the
 * target brings its copy to the state the source had (running, or paused)
 * and says so (`running`), and only then is the source destroyed.
 *
 * The image exists for the move only: the sender removes it once the
 * outcome is settled either way (GC reclaims what no other image shares).
 */
import { PollTimeoutError, poll } from "@xenfleet/core";
import type { Hypervisor } from "@xenfleet/hypervisor";
import { NoRoomError, restoreImage, saveDomain } from "@xenfleet/transfer";
import { ImageNotFoundError, parseImageId, removeImage } from "@xenfleet/image";
import type { ObjectStore } from "@xenfleet/store";
import { claimTargetBuild } from "./commit.js";
import { MigrationFailedError } from "./errors.js";
import type { MigrationRecord, Outcome } from "./rendezvous.js";

export interface ColdSendOptions {
  hypervisor: Hypervisor;
  record: MigrationRecord;
  store: ObjectStore;
  domain: string | number;
  /** How long the target may take to restore the image. */
  readyTimeoutMs?: number;
  /** After the commit: how long to wait for the target to say it holds the domain before giving up (the source then stays paused). */
  confirmTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface ColdSendReport {
  imageId: string;
  /** Stream bytes of the image. */
  bytesTotal: number;
  /** Bytes the image added to the store (what was not already there). */
  bytesNew: number;
  /** Paused on the source until the target held the domain. */
  downtimeMs: number;
  seconds: number;
}

export async function sendCold(o: ColdSendOptions): Promise<ColdSendReport> {
  const started = performance.now();
  const hv = o.hypervisor;
  const info = await hv.domainInfo(o.domain);
  const wasRunning = info.state === "running";
  await o.record.set({ domain: info.uuid, sourceWasRunning: wasRunning ? 1 : 0, mode: "cold" });
  // Paused from here until the target holds it: saved as a checkpoint, it stays paused.
  if (wasRunning) await hv.pause(info.uuid);
  const pausedAt = performance.now();
  let imageId: string | undefined;
  let saved: Awaited<ReturnType<typeof saveDomain>> | undefined;
  try {
    saved = await saveDomain({
      hypervisor: hv,
      store: o.store,
      domain: info.uuid,
      mode: "checkpoint",
      ...(o.signal ? { signal: o.signal } : {}),
    });
    imageId = saved.imageId;
    await o.record.set({ image: imageId });
    await o.record.waitForField("ready", o.readyTimeoutMs ?? 600_000, o.signal);
  } catch (err) {
    await o.record.decide("aborted", `cold send: ${(err as Error).message}`);
    // Only this sender writes "committed": the outcome is "aborted", the source resumes.
    if (wasRunning) await hv.unpause(info.uuid);
    if (imageId) await discardImage(o.store, imageId);
    throw err instanceof MigrationFailedError
      ? err
      : new MigrationFailedError(`cold migration failed: ${(err as Error).message}`, { cause: err });
  }
  if ((await o.record.decide("committed")) === "aborted") {
    if (wasRunning) await hv.unpause(info.uuid);
    await discardImage(o.store, saved.imageId);
    throw new MigrationFailedError("the target aborted the cold migration before the commit");
  }
  try {
    await o.record.waitForField("running", o.confirmTimeoutMs ?? 600_000, o.signal);
  } catch (err) {
    // Committed: the source must never run again, but without word from the target it is kept, paused.
    throw new MigrationFailedError(
      `committed, but the target never confirmed it holds the domain; the source stays paused: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const downtimeMs = performance.now() - pausedAt;
  await hv.destroy(info.uuid);
  await discardImage(o.store, saved.imageId);
  return {
    imageId: saved.imageId,
    bytesTotal: saved.bytesTotal,
    bytesNew: saved.bytesNew,
    downtimeMs,
    seconds: (performance.now() - started) / 1000,
  };
}

export interface ColdReceiveOptions {
  hypervisor: Hypervisor;
  record: MigrationRecord;
  store: ObjectStore;
  /** This host's id, for messages. */
  host: string;
  memoryBytes?: number;
  imageTimeoutMs?: number;
  commitTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface ColdReceiveReport {
  domainUuid: string;
  domid: number;
  /** Whether the domain runs (it stays paused when it was paused on the source). */
  started: boolean;
  bytesRestored: number;
  seconds: number;
}

export async function receiveCold(o: ColdReceiveOptions): Promise<ColdReceiveReport> {
  const started = performance.now();
  const hv = o.hypervisor;
  let restored: Awaited<ReturnType<typeof restoreImage>> | undefined;
  try {
    if (o.memoryBytes !== undefined) {
      const free = (await hv.hostInfo()).freeMemoryBytes;
      if (free < o.memoryBytes) throw new NoRoomError(o.host, o.memoryBytes, free);
    }
    const imageId = parseImageId(await o.record.waitForField("image", o.imageTimeoutMs ?? 600_000, o.signal));
    // The sender names the domain before it saves the image.
    await claimTargetBuild(hv, o.record, (await o.record.get()).domain ?? "");
    restored = await restoreImage({
      hypervisor: hv,
      store: o.store,
      host: o.host,
      imageId,
      paused: true,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    await o.record.set({ ready: 1, targetDomid: restored.domain.domid });
  } catch (err) {
    await o.record.decide("aborted", `cold receive: ${(err as Error).message}`).catch(() => undefined);
    if (restored) await hv.destroy(restored.domain.uuid);
    throw err;
  }
  const uuid = restored.domain.uuid;
  // The sender decides; past the deadline this side does (first writer wins).
  const outcome =
    (await waitForOutcome(o.record, o.commitTimeoutMs ?? 120_000, o.signal)) ??
    (await o.record.decide("aborted", "cold receive: no commit in time"));
  if (outcome === "aborted") {
    await hv.destroy(uuid);
    throw new MigrationFailedError("cold migration aborted before the commit; the restored copy was destroyed");
  }
  const wasRunning = (await o.record.get()).sourceWasRunning === "1";
  if (wasRunning) await hv.unpause(uuid);
  await o.record.set({ running: 1 });
  return {
    domainUuid: uuid,
    domid: restored.domain.domid,
    started: wasRunning,
    bytesRestored: restored.bytesRestored,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The outcome once either side has decided it; undefined past the deadline or once aborted. */
async function waitForOutcome(
  record: MigrationRecord,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Outcome | undefined> {
  try {
    return await poll("the migration's outcome", () => record.outcome(), {
      timeoutMs,
      intervalMs: 50,
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (err instanceof PollTimeoutError || signal?.aborted) return undefined;
    throw err;
  }
}

/** Removes the move's image (its refs; GC reclaims its data). Already gone is fine. */
export async function discardImage(store: ObjectStore, imageId: string): Promise<void> {
  try {
    await removeImage(store, parseImageId(imageId));
  } catch (err) {
    if (!(err instanceof ImageNotFoundError)) throw err;
  }
}

/**
 * Cold migration: through the store instead of a connection, for a domain
 * that is not running or hosts with no direct path. The source pauses the
 * domain and saves it into the store; the target restores it paused; then
 * the same commit rule as live migration (commit.ts) decides, with the
 * migration record as the only channel: the sender writes "committed" and
 * destroys the source, the target starts its copy once it reads
 * "committed" (or writes "aborted" first and destroys it).
 *
 * The image is one object under `migrations/<id>.xl`, deleted once the
 * outcome is settled. (When the image package's incremental images are
 * available, this is where importImage/exportImage plug in.)
 */
import type { Hypervisor, MigrationReceiver } from "@xenfleet/hypervisor";
import type { ObjectStore } from "@xenfleet/store";
import { PassThrough } from "node:stream";
import { receiverSettle } from "./commit.js";
import { MigrationFailedError, NoRoomError } from "./errors.js";
import type { MigrationRecord } from "./rendezvous.js";

export function coldImageKey(migrationId: string): string {
  return `migrations/${migrationId}.xl`;
}

export interface ColdSendOptions {
  hypervisor: Hypervisor;
  record: MigrationRecord;
  store: ObjectStore;
  domain: string | number;
  readyTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface ColdSendReport {
  bytes: number;
  /** Paused on the source until the target ran (or until the commit, if the target start is not seen). */
  downtimeMs: number;
  seconds: number;
  digest?: string;
}

export async function sendCold(o: ColdSendOptions): Promise<ColdSendReport> {
  const started = performance.now();
  const hv = o.hypervisor;
  const info = await hv.domainInfo(o.domain);
  const wasRunning = info.state === "running";
  await o.record.set({ domain: info.uuid, sourceWasRunning: wasRunning ? 1 : 0, mode: "cold" });
  const key = coldImageKey(o.record.migrationId);
  const resume = async (reason: string) => {
    const outcome = await o.record.decide("aborted", reason);
    if (outcome === "aborted" && wasRunning) await hv.unpause(info.uuid);
    await o.store.delete(key).catch(() => undefined);
  };
  await hv.pause(info.uuid);
  const pausedAt = performance.now();
  let bytes = 0;
  let digest: string | undefined;
  try {
    const pipe = new PassThrough();
    pipe.on("data", (c: Buffer) => (bytes += c.length));
    const stored = o.store.put(key, pipe);
    const report = await hv.save(info.uuid, pipe, { mode: "checkpoint", ...(o.signal ? { signal: o.signal } : {}) });
    await stored;
    digest = report.digest;
    await o.record.set({ image: key });
    await o.record.waitForField("ready", o.readyTimeoutMs ?? 300_000, o.signal);
  } catch (err) {
    await resume(`cold send: ${(err as Error).message}`);
    throw err instanceof MigrationFailedError ? err : new MigrationFailedError(`cold migration failed: ${(err as Error).message}`, { cause: err });
  }
  const outcome = await o.record.decide("committed");
  if (outcome === "aborted") {
    if (wasRunning) await hv.unpause(info.uuid);
    throw new MigrationFailedError("the target aborted the cold migration before the commit");
  }
  await hv.destroy(info.uuid);
  await o.record.waitForField("running", 30_000, o.signal).catch(() => undefined);
  const downtimeMs = performance.now() - pausedAt;
  await o.store.delete(key).catch(() => undefined);
  return { bytes, downtimeMs, seconds: (performance.now() - started) / 1000, ...(digest ? { digest } : {}) };
}

export interface ColdReceiveOptions {
  hypervisor: Hypervisor;
  record: MigrationRecord;
  store: ObjectStore;
  memoryBytes?: number;
  imageTimeoutMs?: number;
  commitTimeoutMs?: number;
  signal?: AbortSignal;
}

export async function receiveCold(o: ColdReceiveOptions): Promise<{ domainUuid: string; domid: number; started: boolean; seconds: number }> {
  const started = performance.now();
  const hv = o.hypervisor;
  let receiver: MigrationReceiver | undefined;
  try {
    if (o.memoryBytes !== undefined) {
      const free = (await hv.hostInfo()).freeMemoryBytes;
      if (free < o.memoryBytes) throw new NoRoomError(o.memoryBytes, free);
    }
    const key = await o.record.waitForField("image", o.imageTimeoutMs ?? 600_000, o.signal);
    receiver = await hv.migrateReceive(await o.store.getStream(key), o.signal ? { signal: o.signal } : {});
    await o.record.set({ ready: 1, targetDomid: receiver.domain.domid });
  } catch (err) {
    await o.record.decide("aborted", `cold receive: ${(err as Error).message}`).catch(() => undefined);
    if (receiver) await receiver.abort();
    throw err;
  }
  // Wait for the sender's decision; past the deadline, the record decides.
  const deadline = performance.now() + (o.commitTimeoutMs ?? 60_000);
  let outcome = await o.record.outcome();
  while (outcome === undefined && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    outcome = await o.record.outcome();
  }
  const fields = await o.record.get();
  if (outcome === "committed") {
    if (fields.sourceWasRunning === "1") await receiver.start();
  } else {
    outcome = await receiverSettle(o.record, receiver, "cold receive: no commit in time");
    if (outcome === "committed" && fields.sourceWasRunning !== "1") await hv.pause(receiver.domain.uuid);
  }
  if (outcome === "aborted") throw new MigrationFailedError("cold migration aborted before the commit; the restored copy was destroyed");
  await o.record.set({ running: 1 });
  return { domainUuid: receiver.domain.uuid, domid: receiver.domain.domid, started: fields.sourceWasRunning === "1", seconds: (performance.now() - started) / 1000 };
}

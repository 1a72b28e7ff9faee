/**
 * Saving a domain into the store as one stream: the hypervisor writes its
 * save image into a pipe that the image importer reads, so no temporary file
 * of the whole image ever exists and memory stays bounded (backpressure runs
 * from the store back to the hypervisor). The import is incremental against
 * the domain's previous image, and stores raw packs: compressing while the
 * domain is paused would lengthen the pause, so that is left to compress jobs.
 *
 * A suspend must never lose the domain: the hypervisor suspends it and keeps
 * it (`keepSuspended`), and it is destroyed only once the image is
 * committed. If anything fails before that, the domain is resumed; if the
 * worker dies instead, the domain is left stopped where its image left it.
 * (A checkpoint of a paused domain is no substitute: a real PV guest must
 * run to acknowledge the suspend request, and a checkpoint resumes it.)
 */
import { PassThrough } from "node:stream";
import type { Hypervisor, SaveMode } from "@xenfleet/hypervisor";
import { importImage } from "@xenfleet/image";
import type { ObjectStore } from "@xenfleet/store";

export interface SaveDomainInput {
  hypervisor: Hypervisor;
  store: ObjectStore;
  /** Domain uuid (or name) on this host. */
  domain: string;
  mode: SaveMode;
  signal?: AbortSignal;
}

export interface SaveDomainResult {
  imageId: string;
  bytesTotal: number;
  bytesNew: number;
  pausedMs: number;
  seconds: number;
}

/** Bytes buffered between the hypervisor and the importer. */
const PIPE_BYTES = 8 * 2 ** 20;

export async function saveDomain(input: SaveDomainInput): Promise<SaveDomainResult> {
  const started = performance.now();
  const info = await input.hypervisor.domainInfo(input.domain);
  // One failing side must stop the other: a dead importer would leave the
  // hypervisor blocked on a full pipe, a failed save would leave the importer
  // waiting for bytes that never come.
  const abort = new AbortController();
  const signal = input.signal ? AbortSignal.any([input.signal, abort.signal]) : abort.signal;
  const pipe = new PassThrough({ highWaterMark: PIPE_BYTES });
  // A failure reaches the caller through firstError; destroying the pipe only
  // tells the import. A save that fails at once destroys it before the import
  // reads it, which must not crash the process.
  pipe.on("error", () => {});
  let firstError: { err: unknown } | undefined;
  const fail = (err: unknown): never => {
    firstError ??= { err };
    abort.abort(err);
    pipe.destroy(asError(err));
    throw err;
  };
  const suspend = input.mode === "suspend";
  const wasRunning = info.state === "running";
  const saving = input.hypervisor
    .save(info.uuid, pipe, { mode: input.mode, keepSuspended: suspend, signal })
    .catch(fail);
  const importing = importImage(input.store, pipe, {
    // Images are filed under the uuid: it is unique in the fleet and travels
    // with the domain (a restore or migration elsewhere keeps the chain).
    domain: info.uuid,
    uuid: info.uuid,
    parent: "auto",
    compression: "none",
    signal,
  }).catch(fail);
  // Wait for both sides, so nothing runs on after we return, then report the
  // error that came first (the other side's is only the consequence).
  const [saved, imported] = await Promise.allSettled([saving, importing]);
  if (firstError !== undefined) {
    if (suspend && wasRunning) await input.hypervisor.unpause(info.uuid);
    throw firstError.err;
  }
  // The image is committed (its ref is written): only now may a suspended domain go.
  if (suspend) await input.hypervisor.destroy(info.uuid);
  if (saved.status === "rejected" || imported.status === "rejected") throw new Error("unreachable");
  const report = saved.value;
  const image = imported.value;
  return {
    imageId: image.imageId,
    bytesTotal: image.bytesTotal,
    bytesNew: image.bytesNew,
    // A suspended domain never runs again here: it was paused for the whole save.
    pausedMs: Math.round(suspend ? report.durationMs : (report.downtimeMs ?? report.durationMs)),
    seconds: (performance.now() - started) / 1000,
  };
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

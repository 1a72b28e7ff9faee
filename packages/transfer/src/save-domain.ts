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
import { piped } from "@xenfleet/core";
import type { Hypervisor, SaveMode, SaveReport } from "@xenfleet/hypervisor";
import { type ImportResult, importImage } from "@xenfleet/image";
import type { ObjectStore } from "@xenfleet/store";

export interface SaveDomainInput {
  hypervisor: Hypervisor;
  store: ObjectStore;
  /** Domain uuid (or name) on this host. */
  domain: string;
  mode: SaveMode;
  /** The host's id in the fleet, recorded in the image's manifest. */
  host?: string;
  /** Labels of the save (e.g. "nightly"), recorded in the image's manifest. */
  labels?: readonly string[];
  signal?: AbortSignal;
}

export interface SaveDomainResult {
  imageId: string;
  bytesTotal: number;
  bytesNew: number;
  /** How long the domain was paused; absent when the hypervisor cannot tell (Xen's live save). */
  pausedMs?: number;
  seconds: number;
  /** The domain's latest image, whose manifest could not be read: not the parent, so this image is a full one. */
  parentSkipped?: { id: string; reason: string };
}

/** Bytes buffered between the hypervisor and the importer. */
const PIPE_BYTES = 8 * 2 ** 20;

export async function saveDomain(input: SaveDomainInput): Promise<SaveDomainResult> {
  const started = performance.now();
  const info = await input.hypervisor.domainInfo(input.domain);
  const suspend = input.mode === "suspend";
  const wasRunning = info.state === "running";
  let report: SaveReport;
  let image: ImportResult;
  // The state digest the hypervisor reports once its save is done, for the manifest (a health check's oracle).
  let settle!: { resolve: (r: SaveReport) => void; reject: (err: unknown) => void };
  const saved = new Promise<SaveReport>((resolve, reject) => (settle = { resolve, reject }));
  saved.catch(() => {});
  try {
    [report, image] = await piped(
      (sink, signal) => {
        const save = input.hypervisor.save(info.uuid, sink, { mode: input.mode, keepSuspended: suspend, signal });
        save.then(settle.resolve, settle.reject);
        return save;
      },
      (source, signal) =>
        importImage(input.store, source, {
          // Images are filed under the uuid: it is unique in the fleet and travels
          // with the domain (a restore or migration elsewhere keeps the chain).
          domain: info.uuid,
          uuid: info.uuid,
          name: info.name,
          ...(input.host === undefined ? {} : { host: input.host }),
          ...(input.labels === undefined ? {} : { labels: input.labels }),
          parent: "auto",
          compression: "none",
          stateDigest: async () => (await saved).digest,
          signal,
        }),
      { highWaterMark: PIPE_BYTES, ...(input.signal ? { signal: input.signal } : {}) },
    );
  } catch (err) {
    if (suspend && wasRunning) await input.hypervisor.unpause(info.uuid);
    throw err;
  }
  // The image is committed (its ref is written): only now may a suspended domain go.
  if (suspend) await input.hypervisor.destroy(info.uuid);
  return {
    imageId: image.imageId,
    bytesTotal: image.bytesTotal,
    bytesNew: image.bytesNew,
    // A suspended domain never runs again here: it was paused for the whole save.
    ...pausedOf(suspend ? report.durationMs : report.downtimeMs),
    seconds: (performance.now() - started) / 1000,
    ...(image.parentSkipped === undefined ? {} : { parentSkipped: image.parentSkipped }),
  };
}

/** The pause, when the hypervisor measured it: never the whole save's duration in its place. */
function pausedOf(ms: number | undefined): { pausedMs?: number } {
  return ms === undefined ? {} : { pausedMs: Math.round(ms) };
}

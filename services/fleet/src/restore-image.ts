/**
 * Restoring an image onto a host: the store streams the image (every page
 * checked against its hash, the whole stream against the manifest's SHA-256)
 * straight into the hypervisor's restore, with no temporary file. A host
 * without room for the domain is refused before anything is read.
 */
import { PassThrough } from "node:stream";
import { InsufficientMemoryError, type DomainInfo, type Hypervisor } from "@xenfleet/hypervisor";
import { exportImage, loadManifest, parseImageId } from "@xenfleet/image";
import type { ObjectStore } from "@xenfleet/store";
import { NoRoomError } from "./errors.js";

export interface RestoreImageInput {
  hypervisor: Hypervisor;
  store: ObjectStore;
  /** This host's id, for messages. */
  host: string;
  imageId: string;
  name?: string;
  paused?: boolean;
  signal?: AbortSignal;
}

export interface RestoreImageResult {
  domain: DomainInfo;
  bytesRestored: number;
  seconds: number;
}

const PIPE_BYTES = 8 * 2 ** 20;

export async function restoreImage(input: RestoreImageInput): Promise<RestoreImageResult> {
  const started = performance.now();
  const imageId = parseImageId(input.imageId);
  // Every page of the domain's memory is in the image (zero pages too, as
  // entries), so its pages are the memory the domain will need.
  const manifest = await loadManifest(input.store, imageId);
  const needed = manifest.pages * manifest.pageSize;
  const host = await input.hypervisor.hostInfo();
  if (host.freeMemoryBytes < needed) throw new NoRoomError(input.host, needed, host.freeMemoryBytes);

  const abort = new AbortController();
  const signal = input.signal ? AbortSignal.any([input.signal, abort.signal]) : abort.signal;
  const pipe = new PassThrough({ highWaterMark: PIPE_BYTES });
  let firstError: { err: unknown } | undefined;
  const fail = (err: unknown): never => {
    firstError ??= { err };
    abort.abort(err);
    pipe.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  };
  const exporting = exportImage(input.store, imageId, pipe, { signal })
    .then((result) => {
      // The export checks the whole stream's SHA-256 after its last byte, so
      // the restore sees the end of the stream only once the image verified.
      pipe.end();
      return result;
    })
    .catch(fail);
  const restoring = input.hypervisor
    .restore(pipe, {
      signal,
      paused: input.paused ?? false,
      ...(input.name !== undefined ? { name: input.name } : {}),
    })
    .catch(fail);
  const [exported, restored] = await Promise.allSettled([exporting, restoring]);
  if (firstError !== undefined) {
    const err = firstError.err;
    // The pre-check raced with another restore on this host: still no room.
    if (err instanceof InsufficientMemoryError) throw new NoRoomError(input.host, err.neededBytes, err.freeBytes);
    throw err;
  }
  if (exported.status === "rejected" || restored.status === "rejected") throw new Error("unreachable");
  return { domain: restored.value, bytesRestored: exported.value.bytes, seconds: (performance.now() - started) / 1000 };
}

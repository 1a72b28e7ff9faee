/**
 * Restoring an image onto a host: the store streams the image (every page
 * checked against its hash, the whole stream against the manifest's SHA-256)
 * straight into the hypervisor's restore, with no temporary file. A host
 * without room for the domain is refused before anything is read.
 *
 * A restore retried after its worker died may find the domain it was
 * building: the job claims the build before it starts (BuildClaim), so a
 * domain with the image's uuid is either someone else's (refused, never
 * touched) or its own. Its own copy is kept when it is running as asked, the
 * restore having finished; otherwise (paused, so maybe half built) it is
 * destroyed and the image restored again. Nobody was told of that copy yet,
 * so nothing depended on it.
 *
 * Under a new uuid (a copy, a clone) the image becomes the domain's origin:
 * its first save stores only the pages it changed since.
 */
import { piped } from "@xenfleet/core";
import {
  DomainExistsError,
  findDomain,
  InsufficientMemoryError,
  type DomainInfo,
  type Hypervisor,
} from "@xenfleet/hypervisor";
import { exportImage, loadManifest, parseImageId, setImageOrigin } from "@xenfleet/image";
import type { ObjectStore } from "@xenfleet/store";
import { NoRoomError } from "./errors.js";

export interface RestoreImageInput {
  hypervisor: Hypervisor;
  store: ObjectStore;
  /** This host's id, for messages. */
  host: string;
  imageId: string;
  name?: string;
  /** The restored domain's uuid, written into its config; by default the image's (the same domain, back). */
  uuid?: string;
  paused?: boolean;
  signal?: AbortSignal;
  /** Where the restore notes that it builds the domain, so that a retry knows the domain as its own. */
  claim?: BuildClaim;
  /**
   * Under a new uuid, record the image as the copy's origin (default true):
   * its first save then stores only what it changed. A copy that is never
   * saved (a health check's) leaves no mark.
   */
  recordOrigin?: boolean;
  /** Stream bytes restored so far, of `bytesTotal` (the export's progress). */
  onProgress?: (progress: { bytes: number; bytesTotal: number }) => void;
}

/** A record that outlives the worker (the job): did an earlier attempt start building? */
export interface BuildClaim {
  claimed(): Promise<boolean>;
  claim(): Promise<void>;
}

export interface RestoreImageResult {
  domain: DomainInfo;
  bytesRestored: number;
  seconds: number;
  /** The domain an earlier attempt of this restore built, found running and kept. */
  adopted: boolean;
}

const PIPE_BYTES = 8 * 2 ** 20;

export async function restoreImage(input: RestoreImageInput): Promise<RestoreImageResult> {
  const started = performance.now();
  const imageId = parseImageId(input.imageId);
  // Every page of the domain's memory is in the image (zero pages too, as
  // entries), so its pages are the memory the domain will need.
  const manifest = await loadManifest(input.store, imageId);
  const uuid = input.uuid ?? manifest.domain.uuid;
  const existing = uuid === undefined ? undefined : await findDomain(input.hypervisor, uuid);
  if (existing !== undefined) {
    if (!(await input.claim?.claimed())) throw new DomainExistsError("uuid", existing.uuid);
    if (existing.state === "running" && !input.paused) {
      return {
        domain: existing,
        bytesRestored: manifest.streamBytes,
        seconds: (performance.now() - started) / 1000,
        adopted: true,
      };
    }
    await input.hypervisor.destroy(existing.uuid);
  }
  const needed = manifest.pages * manifest.pageSize;
  const host = await input.hypervisor.hostInfo();
  if (host.freeMemoryBytes < needed) throw new NoRoomError(input.host, needed, host.freeMemoryBytes);

  await input.claim?.claim();
  // A copy under a new uuid has no images of its own: its first save dedups
  // against the image it was made from (fleet saves file images by uuid).
  if (input.recordOrigin !== false && input.uuid !== undefined && input.uuid !== manifest.domain.uuid)
    await setImageOrigin(input.store, input.uuid, imageId);
  try {
    const [exported, restored] = await piped(
      async (sink, signal) => {
        const result = await exportImage(input.store, imageId, sink, {
          signal,
          ...(input.onProgress ? { onProgress: input.onProgress } : {}),
        });
        // The export checks the whole stream's SHA-256 after its last byte, so
        // the restore sees the end of the stream only once the image verified.
        sink.end();
        return result;
      },
      (source, signal) =>
        input.hypervisor.restore(source, {
          signal,
          paused: input.paused ?? false,
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.uuid !== undefined ? { uuid: input.uuid } : {}),
        }),
      { highWaterMark: PIPE_BYTES, ...(input.signal ? { signal: input.signal } : {}) },
    );
    return {
      domain: restored,
      bytesRestored: exported.bytes,
      seconds: (performance.now() - started) / 1000,
      adopted: false,
    };
  } catch (err) {
    // The pre-check raced with another restore on this host: still no room.
    if (err instanceof InsufficientMemoryError) throw new NoRoomError(input.host, err.neededBytes, err.freeBytes);
    throw err;
  }
}

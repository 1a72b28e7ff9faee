/**
 * The save job: take a fleet-wide save slot, stream the domain's image into
 * the store, then queue its compression (off the critical path: the domain
 * was paused only while raw data was written).
 */
import type { Queue } from "bullmq";
import { saveDomain } from "@xenfleet/transfer";
import { acquireSaveSlot } from "../limits.js";
import type { Stores } from "../stores.js";
import type { Hypervisor } from "@xenfleet/hypervisor";
import { JOB_SPECS, jobData, type JobHandler, type RedisClient } from "@xenfleet/jobs";

export interface SaveHandlerDeps {
  hypervisor: Hypervisor;
  stores: Stores;
  /** A producer connection: fleet-wide slots and compress jobs. */
  redis: RedisClient;
  prefix: string;
  compressQueue: Queue;
  compressLevel: number;
}

export function saveHandler(deps: SaveHandlerDeps): JobHandler<"save"> {
  return async (payload, { job, signal, logger }) => {
    const slot = await acquireSaveSlot(deps.redis, deps.prefix, `${job.queueName}:${job.id ?? ""}`, signal);
    try {
      const store = await deps.stores.get(payload.store);
      const result = await saveDomain({
        hypervisor: deps.hypervisor,
        store,
        domain: payload.domain.uuid,
        mode: payload.mode,
        host: payload.host,
        labels: payload.labels,
        signal,
      });
      logger.info({ domain: payload.domain.name, ...result }, "saved");
      if (result.parentSkipped !== undefined)
        logger.warn(
          { domain: payload.domain.name, parent: result.parentSkipped.id, reason: result.parentSkipped.reason },
          "the domain's latest image is unreadable: saved in full, without it as the parent",
        );
      if (payload.compress) {
        // The job id is the image's, so saving the same image twice compresses it once.
        await deps.compressQueue.add(
          "compress",
          jobData("compress", {
            store: payload.store,
            image: result.imageId,
            algorithm: "zstd",
            level: deps.compressLevel,
          }),
          { ...JOB_SPECS.compress.options, jobId: `compress-${result.imageId}` },
        );
      }
      return result;
    } finally {
      await slot.release();
    }
  };
}

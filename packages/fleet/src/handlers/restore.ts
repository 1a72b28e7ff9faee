/** The restore job: an image from the store onto this host, verified on the way. */
import { type BuildClaim, restoreImage } from "@xenfleet/transfer";
import type { Stores } from "../stores.js";
import type { Hypervisor } from "@xenfleet/hypervisor";
import { type JobContext, type JobHandler, jobProgress, parseProgress, type RedisClient } from "@xenfleet/jobs";
import { publishHostDomains } from "../host-agent.js";
import { throttled } from "./throttle.js";

export interface RestoreHandlerDeps {
  host: string;
  hypervisor: Hypervisor;
  stores: Stores;
  /** A producer connection: the host's registration, updated once the domain runs. */
  redis: RedisClient;
  prefix: string;
}

export function restoreHandler(deps: RestoreHandlerDeps): JobHandler<"restore"> {
  return async (payload, { job, signal, logger }) => {
    const store = await deps.stores.get(payload.store);
    const result = await restoreImage({
      hypervisor: deps.hypervisor,
      store,
      host: deps.host,
      imageId: payload.image,
      paused: payload.paused,
      signal,
      claim: jobClaim(job),
      // The progress keeps the claim's phase: a retry reads it to know the domain is its own.
      onProgress: throttled(({ bytes, bytesTotal }) => {
        void job
          .updateProgress(jobProgress("restore", { phase: "building", bytes, totalBytes: bytesTotal }))
          .catch(() => undefined);
      }),
      ...(payload.name !== undefined ? { name: payload.name } : {}),
      ...(payload.uuid !== undefined ? { uuid: payload.uuid } : {}),
    });
    logger.info(
      { image: payload.image, domain: result.domain.name, bytes: result.bytesRestored, adopted: result.adopted },
      result.adopted ? "restored by an earlier attempt" : "restored",
    );
    await publishHostDomains({ ...deps, logger });
    return {
      domain: { uuid: result.domain.uuid, name: result.domain.name },
      bytesRestored: result.bytesRestored,
      seconds: result.seconds,
    };
  };
}

/** The claim lives in the job's progress, which a retry of the job sees. */
function jobClaim(job: JobContext["job"]): BuildClaim {
  return {
    claimed: async () => parseProgress("restore", job.progress)?.phase === "building",
    claim: () => job.updateProgress(jobProgress("restore", { phase: "building" })),
  };
}

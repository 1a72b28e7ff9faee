/** The health-check job: a restored copy of an image run and destroyed on this host, its verdict recorded beside the image. */
import { parseImageId, recordHealthCheck } from "@xenfleet/image";
import type { JobHandler } from "@xenfleet/jobs";
import { healthCheck } from "@xenfleet/transfer";
import type { RestoreHandlerDeps } from "./restore.js";

export function healthCheckHandler(
  deps: Pick<RestoreHandlerDeps, "host" | "hypervisor" | "stores">,
): JobHandler<"health-check"> {
  return async (payload, { signal, logger }) => {
    const store = await deps.stores.get(payload.store);
    const imageId = parseImageId(payload.image);
    const r = await healthCheck({
      hypervisor: deps.hypervisor,
      store,
      host: deps.host,
      imageId,
      deadlineMs: payload.deadlineSeconds * 1000,
      signal,
    });
    await recordHealthCheck(store, imageId, {
      at: new Date().toISOString(),
      host: deps.host,
      passed: r.passed,
      ...(r.reason === undefined ? {} : { reason: r.reason }),
      digest: r.digest,
      seconds: r.seconds,
    });
    if (r.passed) logger.info({ image: payload.image, digest: r.digest, copy: r.copy.name }, "health check passed");
    else logger.warn({ image: payload.image, reason: r.reason, copy: r.copy.name }, "health check failed");
    return {
      imageId: payload.image,
      passed: r.passed,
      ...(r.reason === undefined ? {} : { reason: r.reason }),
      digest: r.digest,
      seconds: r.seconds,
      copy: r.copy,
    };
  };
}

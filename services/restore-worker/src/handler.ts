/** The restore job: an image from the store onto this host, verified on the way. */
import { restoreImage, type Stores } from "@xenfleet/fleet";
import type { Hypervisor } from "@xenfleet/hypervisor";
import type { JobHandler } from "@xenfleet/jobs";

export interface RestoreHandlerDeps {
  host: string;
  hypervisor: Hypervisor;
  stores: Stores;
}

export function restoreHandler(deps: RestoreHandlerDeps): JobHandler<"restore"> {
  return async (payload, { signal, logger }) => {
    const store = await deps.stores.get(payload.store);
    const result = await restoreImage({
      hypervisor: deps.hypervisor,
      store,
      host: deps.host,
      imageId: payload.image,
      paused: payload.paused,
      signal,
      ...(payload.name !== undefined ? { name: payload.name } : {}),
    });
    logger.info({ image: payload.image, domain: result.domain.name, bytes: result.bytesRestored }, "restored");
    return {
      domain: { uuid: result.domain.uuid, name: result.domain.name },
      bytesRestored: result.bytesRestored,
      seconds: result.seconds,
    };
  };
}

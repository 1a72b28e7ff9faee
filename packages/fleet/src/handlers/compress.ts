/** The compress job: rewrite an image's raw packs compressed. Any worker anywhere may take it. */
import type { Stores } from "../stores.js";
import { compressImage, parseImageId } from "@xenfleet/image";
import type { JobHandler } from "@xenfleet/jobs";

export function compressHandler(stores: Stores): JobHandler<"compress"> {
  return async (payload, { signal, logger }) => {
    const started = performance.now();
    const store = await stores.get(payload.store);
    // The level is part of the request (the schema bounds it); packs already compressed are left as they are.
    const result = await compressImage(store, parseImageId(payload.image), payload.algorithm, {
      zstdLevel: payload.level,
      signal,
    });
    logger.info(
      {
        image: payload.image,
        packs: result.packs,
        rewritten: result.rewritten,
        bytesIn: result.bytesBefore,
        bytesOut: result.bytesAfter,
      },
      "compressed",
    );
    return {
      imageId: payload.image,
      bytesIn: result.bytesBefore,
      bytesOut: result.bytesAfter,
      seconds: (performance.now() - started) / 1000,
    };
  };
}

/** The verify job: read and hash one image (or a slice of its packs) and record the result beside it. Any compress worker may take it. */
import { parseImageId, verifyAndRecord } from "@xenfleet/image";
import type { JobHandler } from "@xenfleet/jobs";
import type { Stores } from "../stores.js";

export function verifyHandler(stores: Stores): JobHandler<"verify"> {
  return async (payload, { signal, logger }) => {
    const store = await stores.get(payload.store);
    const r = await verifyAndRecord(store, parseImageId(payload.image), {
      signal,
      ...(payload.subset === undefined ? {} : { subset: payload.subset }),
    });
    if (r.ok) logger.info({ image: payload.image, bytes: r.bytes, subset: r.subset }, "verified");
    else logger.warn({ image: payload.image, problem: r.problem }, "image broken");
    return {
      imageId: payload.image,
      ok: r.ok,
      bytes: r.bytes,
      seconds: r.seconds,
      ...(r.problem === undefined
        ? {}
        : { problem: { key: r.problem.key.slice(0, 1024), reason: r.problem.reason.slice(0, 1024) } }),
    };
  };
}

/** Retention (drop images no rule keeps) and GC (sweep what no image reaches), both on schedules. */
import type { Stores } from "../stores.js";
import { gc, prune } from "@xenfleet/image";
import type { JobHandler } from "@xenfleet/jobs";

export function retentionHandler(stores: Stores): JobHandler<"retention"> {
  return async (payload, { signal, logger }) => {
    const store = await stores.get(payload.store);
    // Nightly images are kept one per day, weekly ones one per ISO week (the
    // newest of each), per domain; images are filed under the domain's uuid.
    const result = await prune(store, {
      keepDaily: payload.keep.nightly,
      keepWeekly: payload.keep.weekly,
      dryRun: payload.dryRun,
      ...(payload.domain !== undefined ? { domain: payload.domain } : {}),
    });
    signal.throwIfAborted();
    logger.info({ kept: result.kept.length, dropped: result.removed.length }, "retention done");
    return { kept: result.kept.length, dropped: result.removed.length };
  };
}

export function gcHandler(stores: Stores): JobHandler<"gc"> {
  return async (payload, { signal, logger }) => {
    const store = await stores.get(payload.store);
    const result = await gc(store, { graceMs: payload.graceSeconds * 1000, dryRun: payload.dryRun, signal });
    const objectsDeleted = Object.values(result.deleted).reduce((a, b) => a + b, 0);
    logger.info({ objectsDeleted, bytesFreed: result.bytesFreed, missing: result.missing.length }, "gc done");
    return { objectsDeleted, bytesFreed: result.bytesFreed };
  };
}

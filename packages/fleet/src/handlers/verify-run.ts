/**
 * The verify-run job, in two runs like a scheduled batch: the first lists
 * the store's images, skips those verified within the window, queues one
 * verify child per remaining image on the compress queue (and, with a
 * health check host, a health-check child per domain's newest image on
 * that host's restore queue) and waits for them; the second writes the report and sets the controller's gauges.
 * A scheduled run's id and start are taken when it first runs (its job was
 * created a whole period earlier).
 */
import { WaitingChildrenError } from "bullmq";
import { jobProgress, parseProgress, type ImageVerifyCounts, type JobHandler } from "@xenfleet/jobs";
import type { RedisClient } from "@xenfleet/jobs";
import type { Stores } from "../stores.js";
import {
  childVerdicts,
  imagesDue,
  newestImages,
  queueHealthChildren,
  queueVerifyChildren,
  verifyCounts,
} from "../verify-run.js";

export interface VerifyRunHandlerDeps {
  redis: RedisClient;
  prefix: string;
  stores: Stores;
  /** Called with the store's counts at the end of each run (the controller's gauges). */
  onCounts?: (store: string, counts: ImageVerifyCounts) => void;
}

export function verifyRunHandler(deps: VerifyRunHandlerDeps): JobHandler<"verify-run"> {
  return async (payload, { job, logger }) => {
    const store = await deps.stores.get(payload.store);
    let progress = parseProgress("verify-run", job.progress);
    if (progress === undefined || !progress.expanded) {
      // Written before the children are queued: their ids derive from the run id, so a
      // run that crashed halfway expands again identically.
      const startedAt = progress?.startedAt ?? Date.now();
      const runId =
        progress?.runId ?? (job.repeatJobKey === undefined ? payload.runId : `${payload.runId}-${startedAt}`);
      const base = { runId, startedAt, images: 0, queued: 0, skippedRecent: 0 };
      if (progress === undefined) await job.updateProgress(jobProgress("verify-run", { ...base, expanded: false }));
      const { due, recent } = await imagesDue(store, startedAt, payload.outdatedAfterSeconds);
      const newest = payload.healthCheck === undefined ? [] : await newestImages(store);
      await queueVerifyChildren(job, deps.redis, deps.prefix, runId, payload, due);
      await queueHealthChildren(job, deps.redis, deps.prefix, runId, payload, newest);
      progress = jobProgress("verify-run", {
        ...base,
        images: due.length + recent.length,
        queued: due.length,
        skippedRecent: recent.length,
        ...(payload.healthCheck === undefined ? {} : { healthChecks: newest.length }),
        expanded: true,
      });
      await job.updateProgress(progress);
      logger.info(
        { runId, queued: due.length, skippedRecent: recent.length, healthChecks: newest.length },
        "verify run expanded",
      );
      if (due.length + newest.length > 0 && (await job.moveToWaitingChildren(job.token ?? "")))
        throw new WaitingChildrenError();
    }
    const verdicts = await childVerdicts(job, payload.healthCheck !== undefined);
    const counts = await verifyCounts(store, progress.startedAt, payload.outdatedAfterSeconds);
    deps.onCounts?.(payload.store, counts);
    logger.info(
      { runId: progress.runId, intact: verdicts.intact, brokenNow: verdicts.broken.length, ...counts },
      "verify run done",
    );
    return {
      runId: progress.runId,
      images: progress.images,
      skippedRecent: progress.skippedRecent,
      ...verdicts,
      unverified: counts.unverified,
      brokenTotal: counts.broken,
      startedAt: progress.startedAt,
    };
  };
}

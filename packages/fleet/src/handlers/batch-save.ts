/**
 * The batch-save job. A batch started from the CLI arrives as a whole flow:
 * its saves have all finished when this runs, and it only writes the report.
 * A scheduled batch (the nightly) arrives as a single job from the job
 * scheduler: on its first run it expands into one save child per domain and
 * waits for them; on its second run it writes the report.
 */
import { WaitingChildrenError, type Job } from "bullmq";
import { expandInto } from "../batch.js";
import {
  batchSaveReport,
  type JobHandler,
  type JobPayload,
  type JobProgress,
  jobProgress,
  parseProgress,
} from "@xenfleet/jobs";
import type { Redis } from "ioredis";

export interface BatchHandlerDeps {
  redis: Redis;
  prefix: string;
  compress: boolean;
}

/** What the first run of a scheduled batch leaves on the job for the second. */
type Expansion = JobProgress<"batch-save">;

export function batchSaveHandler(deps: BatchHandlerDeps): JobHandler<"batch-save"> {
  return async (payload, { job, logger }) => {
    if (job.repeatJobKey === undefined) return batchSaveReport(job, payload);

    let expansion = expansionOf(job);
    if (expansion === undefined) {
      // Each run gets its own batch id (its save jobs' ids derive from it),
      // fixed by the job's creation time so a re-run expands identically.
      const batchId = `${payload.batchId}-${job.timestamp}`;
      const { total, skipped, duplicates } = await expandInto(job, payload, deps.redis, deps.prefix, batchId, {
        compress: deps.compress,
      });
      expansion = jobProgress("batch-save", {
        batchId,
        total,
        skipped: skipped.slice(0, 1000),
        duplicates: duplicates.slice(0, 1000),
      });
      await job.updateProgress(expansion);
      logger.info(
        { batchId, total, skipped: skipped.length, hosts: payload.hosts ?? "all" },
        "scheduled batch expanded",
      );
      for (const s of skipped) logger.warn({ host: s.host, domain: s.domain.name }, s.reason);
      for (const d of duplicates)
        logger.warn({ domain: d.uuid, hosts: d.hosts }, "domain uuid reported by several hosts; saved on each");
      if (total > 0 && (await job.moveToWaitingChildren(job.token ?? ""))) throw new WaitingChildrenError();
    }
    const report = await batchSaveReport(job, withBatch(payload, expansion));
    for (const s of expansion.skipped) report.outcomes.push({ host: s.host, domain: s.domain.uuid, error: s.reason });
    return {
      ...report,
      total: expansion.total + expansion.skipped.length,
      failed: report.failed + expansion.skipped.length,
    };
  };
}

function expansionOf(job: Job): Expansion | undefined {
  return parseProgress("batch-save", job.progress);
}

function withBatch(payload: JobPayload<"batch-save">, expansion: Expansion): JobPayload<"batch-save"> {
  return { ...payload, batchId: expansion.batchId, total: expansion.total };
}

/**
 * The batch-save job. A batch started from the CLI arrives as a whole flow:
 * its saves have all finished when this runs, and it only writes the report.
 * A scheduled batch (the nightly) arrives as a single job from the job
 * scheduler: on its first run it expands into one save child per domain and
 * waits for them; on its second run it writes the report.
 *
 * A scheduled run's id and start time are taken when it runs. The job
 * scheduler creates each run's job at the previous tick, so the job's
 * creation time is a whole period early (a daily batch would report a day).
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
  type RedisClient,
} from "@xenfleet/jobs";

export interface BatchHandlerDeps {
  redis: RedisClient;
  prefix: string;
  compress: boolean;
}

/** What the first run of a scheduled batch leaves on the job for the second. */
type Expansion = JobProgress<"batch-save">;

export function batchSaveHandler(deps: BatchHandlerDeps): JobHandler<"batch-save"> {
  return async (payload, { job, logger }) => {
    if (job.repeatJobKey === undefined) return batchSaveReport(job, payload);

    let expansion = expansionOf(job);
    if (expansion === undefined || expansion.expanded === false) {
      // The id is written before the saves are queued: save job ids derive
      // from it, so a run that crashed halfway expands again identically.
      const startedAt = expansion?.startedAt ?? Date.now();
      const batchId = expansion?.batchId ?? `${payload.batchId}-${startedAt}`;
      if (expansion === undefined)
        await job.updateProgress(
          jobProgress("batch-save", { batchId, startedAt, total: 0, skipped: [], duplicates: [], expanded: false }),
        );
      const { total, skipped, duplicates } = await expandInto(job, payload, deps.redis, deps.prefix, batchId, {
        compress: deps.compress,
      });
      expansion = jobProgress("batch-save", {
        batchId,
        startedAt,
        total,
        skipped: skipped.slice(0, 1000),
        duplicates: duplicates.slice(0, 1000),
        expanded: true,
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
    return {
      ...report,
      ...(expansion.skipped.length > 0 ? { notSaved: expansion.skipped } : {}),
      ...(expansion.startedAt !== undefined ? { startedAt: expansion.startedAt } : {}),
    };
  };
}

function expansionOf(job: Job): Expansion | undefined {
  return parseProgress("batch-save", job.progress);
}

function withBatch(payload: JobPayload<"batch-save">, expansion: Expansion): JobPayload<"batch-save"> {
  return { ...payload, batchId: expansion.batchId, total: expansion.total };
}

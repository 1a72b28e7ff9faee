/**
 * Reading a batch while it runs and once it is done, for the CLI and the
 * demo: how many saves have finished, then the final report.
 */
import { poll } from "@xenfleet/core";
import { Queue, type Job } from "bullmq";
import {
  bullPrefix,
  CONTROLLER_QUEUE,
  JobNotFoundError,
  parseProgress,
  parseResult,
  type results,
  type RedisClient,
} from "@xenfleet/jobs";
import type { z } from "zod";
import type { SkippedDomain } from "./targets.js";

export interface BatchFailure {
  host: string;
  domain: string;
  reason: string;
}

export interface BatchReport {
  batchId: string;
  saved: number;
  failed: number;
  bytesTotal: number;
  bytesNew: number;
  seconds: number;
  failures: BatchFailure[];
  /** Domains the batch did not try to save because their host was down, with the reason. */
  notSaved: BatchFailure[];
}

export interface BatchProgress {
  jobId: string;
  batchId: string;
  state: string;
  total: number;
  /** Saves that have finished, successfully or not. */
  finished: number;
  failed: number;
  /** When the batch began (a scheduled run: when it ran). */
  createdAt: number;
  /** Present once the controller has written the report. */
  report?: BatchReport;
  /** Why the batch itself failed, when it did. */
  error?: string;
}

function controllerQueue(redis: RedisClient, prefix: string): Queue {
  return new Queue(CONTROLLER_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
}

export async function batchProgress(
  redis: RedisClient,
  prefix: string,
  jobId: string,
): Promise<BatchProgress | undefined> {
  const queue = controllerQueue(redis, prefix);
  try {
    return await progressOf(queue, jobId);
  } finally {
    await queue.close();
  }
}

/** Batches known to the controller queue, newest first. */
export async function listBatches(redis: RedisClient, prefix: string, limit = 20): Promise<BatchProgress[]> {
  const queue = controllerQueue(redis, prefix);
  try {
    const jobs = await queue.getJobs(
      ["waiting-children", "active", "waiting", "completed", "failed", "prioritized"],
      0,
      limit * 3,
    );
    const batches = jobs.filter((j): j is Job => j !== undefined && j.name === "batch-save");
    batches.sort((a, b) => startOf(b) - startOf(a));
    const progress = await Promise.all(batches.slice(0, limit).map((j) => progressOf(queue, j.id ?? "")));
    return progress.filter((p): p is BatchProgress => p !== undefined);
  } finally {
    await queue.close();
  }
}

/**
 * The state is read before the job: completed and failed are final, so a job
 * read after its state said so carries its result. Read the other way round,
 * a batch finishing in between looked completed with no result yet, and
 * reading its report failed (regression: `batch-save --wait` exited 1).
 */
async function progressOf(queue: Queue, jobId: string): Promise<BatchProgress | undefined> {
  const state = await queue.getJobState(jobId);
  const job = state === "unknown" ? undefined : await queue.getJob(jobId);
  if (job === undefined) return undefined;
  const counts = await job.getDependenciesCount();
  const finishedChildren = (counts.processed ?? 0) + (counts.ignored ?? 0) + (counts.failed ?? 0);
  const planned = typeof job.data?.total === "number" ? (job.data.total as number) : 0;
  const expanded = parseProgress("batch-save", job.progress)?.total;
  const progress: BatchProgress = {
    jobId: job.id ?? "",
    batchId: batchIdOf(job),
    state,
    total: Math.max(planned, typeof expanded === "number" ? expanded : 0, finishedChildren + (counts.unprocessed ?? 0)),
    finished: finishedChildren,
    failed: (counts.ignored ?? 0) + (counts.failed ?? 0),
    createdAt: startOf(job),
  };
  if (state === "completed") progress.report = await reportOf(job);
  if (state === "failed") progress.error = job.failedReason;
  return progress;
}

function batchIdOf(job: Job): string {
  const fromResult = (job.returnvalue as { batchId?: unknown } | null)?.batchId;
  const fromProgress = parseProgress("batch-save", job.progress)?.batchId;
  const fromData = (job.data as { batchId?: unknown } | undefined)?.batchId;
  for (const id of [fromResult, fromProgress, fromData]) if (typeof id === "string") return id;
  return job.id ?? "";
}

async function reportOf(job: Job): Promise<BatchReport> {
  const result: z.infer<typeof results.batchSaveResultV1> = parseResult("batch-save", job.returnvalue);
  let bytesTotal = 0;
  for (const value of Object.values(await job.getChildrenValues())) {
    bytesTotal += parseResult("save", value).bytesTotal;
  }
  return {
    batchId: result.batchId,
    saved: result.succeeded,
    failed: result.failed,
    bytesTotal,
    bytesNew: result.bytesNew,
    seconds: ((job.finishedOn ?? Date.now()) - startOf(job)) / 1000,
    failures: result.outcomes
      .filter((o) => o.error !== undefined)
      .map((o) => ({ host: o.host, domain: o.domain, reason: o.error ?? "" })),
    notSaved: (result.notSaved ?? []).map((s) => ({ host: s.host, domain: s.domain.name, reason: s.reason })),
  };
}

/** Poll until the batch has its report (or has failed). */
export async function waitForBatch(
  redis: RedisClient,
  prefix: string,
  jobId: string,
  options: { signal?: AbortSignal; onProgress?: (p: BatchProgress) => void; intervalMs?: number } = {},
): Promise<BatchProgress> {
  return poll(
    `batch ${jobId} to finish`,
    async () => {
      const progress = await batchProgress(redis, prefix, jobId);
      if (progress === undefined) throw new JobNotFoundError(CONTROLLER_QUEUE, jobId);
      options.onProgress?.(progress);
      return progress.state === "completed" || progress.state === "failed" ? progress : undefined;
    },
    { intervalMs: options.intervalMs ?? 300, ...(options.signal ? { signal: options.signal } : {}) },
  );
}

/**
 * When a batch began: a scheduled run records its own start (its job was
 * created a whole period earlier, at the previous tick); a batch started
 * from the CLI began when its job was created.
 */
function startOf(job: Job): number {
  const fromResult = (job.returnvalue as { startedAt?: unknown } | null)?.startedAt;
  if (typeof fromResult === "number") return fromResult;
  const fromProgress = parseProgress("batch-save", job.progress)?.startedAt;
  return fromProgress ?? job.timestamp;
}

/**
 * Domains a batch skipped (their host was down) are listed as not saved,
 * with the reason; they are not failures of the saves that ran.
 */
export function withSkipped(report: BatchReport, skipped: readonly SkippedDomain[]): BatchReport {
  return {
    ...report,
    notSaved: [...report.notSaved, ...skipped.map((s) => ({ host: s.host, domain: s.domain.name, reason: s.reason }))],
  };
}

/**
 * Verify runs: which images of a store a run verifies (those with no
 * verification within its window), queueing one verify child per image on
 * the compress queue under the run's job, and what the store looks like
 * once the run is over (the report's and the gauges' counts). A run is
 * started from the CLI (`verify-all`) or by its schedule; both are one
 * verify-run job on the controller queue, which expands itself.
 */
import { Queue, type Job, type JobsOptions } from "bullmq";
import { poll } from "@xenfleet/core";
import { listImageRefs, listVerifications, type Sha256Id } from "@xenfleet/image";
import {
  bullPrefix,
  COMPRESS_QUEUE,
  CONTROLLER_QUEUE,
  hostOfQueue,
  hostQueue,
  JOB_SPECS,
  jobData,
  JobNotFoundError,
  parseResult,
  type ImageVerifyCounts,
  type JobPayload,
  type JobResult,
} from "@xenfleet/jobs";
import type { ObjectStore } from "@xenfleet/store";
import type { RedisClient } from "@xenfleet/jobs";
import { newBatchId } from "./batch.js";

export type VerifyRunOptions = Omit<JobPayload<"verify-run">, "v" | "runId">;

/** The verify-run job's id on the controller queue. */
export function verifyRunJobId(runId: string): string {
  return `verify-run-${runId}`;
}

/** A verify child's job id: the run and the image, so expanding a run twice queues each image once. */
export function verifyChildJobId(runId: string, imageId: string): string {
  return `verify-${runId}-${imageId}`;
}

/** A health-check child's job id, likewise. */
export function healthChildJobId(runId: string, imageId: string): string {
  return `health-${runId}-${imageId}`;
}

/** Queues a verify run now; the controller expands it. */
export async function startVerifyRun(
  redis: RedisClient,
  prefix: string,
  options: VerifyRunOptions,
): Promise<{ runId: string; jobId: string }> {
  const runId = newBatchId("verify");
  const queue = new Queue(CONTROLLER_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
  try {
    const jobId = verifyRunJobId(runId);
    await queue.add("verify-run", jobData("verify-run", { runId, ...options }), {
      ...JOB_SPECS["verify-run"].options,
      jobId,
    });
    return { runId, jobId };
  } finally {
    await queue.close();
  }
}

/** Whether a verification made at `at` is within the window of a run started at `startedAt`. */
function recent(at: string, startedAt: number, outdatedAfterSeconds: number | undefined): boolean {
  return outdatedAfterSeconds !== undefined && Date.parse(at) > startedAt - outdatedAfterSeconds * 1000;
}

/** The store's images, split into those a run verifies and those verified within its window. */
export async function imagesDue(
  store: ObjectStore,
  startedAt: number,
  outdatedAfterSeconds: number | undefined,
): Promise<{ due: Sha256Id[]; recent: Sha256Id[] }> {
  const ids = [...new Set((await listImageRefs(store)).map((r) => r.id))].sort();
  const verifications = await listVerifications(store);
  const due: Sha256Id[] = [];
  const skipped: Sha256Id[] = [];
  for (const id of ids) {
    const v = verifications.get(id);
    (v !== undefined && recent(v.at, startedAt, outdatedAfterSeconds) ? skipped : due).push(id);
  }
  return { due, recent: skipped };
}

/**
 * Adds one verify child per image to the (active) verify-run job. Children
 * whose verification fails without a verdict do not hold up the report.
 */
export async function queueVerifyChildren(
  job: Job,
  redis: RedisClient,
  prefix: string,
  runId: string,
  payload: JobPayload<"verify-run">,
  images: readonly Sha256Id[],
): Promise<void> {
  await addChildren(job, redis, prefix, COMPRESS_QUEUE, images, (image) => ({
    name: "verify",
    data: jobData("verify", {
      store: payload.store,
      image,
      runId,
      ...(payload.subset === undefined ? {} : { subset: payload.subset }),
    }),
    opts: { ...JOB_SPECS.verify.options, jobId: verifyChildJobId(runId, image) },
  }));
}

/** The newest image of every domain of the store (what a run health-checks). */
export async function newestImages(store: ObjectStore): Promise<Sha256Id[]> {
  const newest = new Map<string, { id: Sha256Id; created: number }>();
  for (const r of await listImageRefs(store)) {
    const best = newest.get(r.domain);
    if (best === undefined || r.created.getTime() >= best.created)
      newest.set(r.domain, { id: r.id, created: r.created.getTime() });
  }
  return [...new Set([...newest.values()].map((n) => n.id))].sort();
}

/** Adds one health-check child per image, on the run's health check host's restore queue. */
export async function queueHealthChildren(
  job: Job,
  redis: RedisClient,
  prefix: string,
  runId: string,
  payload: JobPayload<"verify-run">,
  images: readonly Sha256Id[],
): Promise<void> {
  const check = payload.healthCheck;
  if (check === undefined) return;
  await addChildren(job, redis, prefix, hostQueue("restore", check.host), images, (image) => ({
    name: "health-check",
    data: jobData("health-check", {
      host: check.host,
      store: payload.store,
      image,
      deadlineSeconds: check.deadlineSeconds,
    }),
    opts: { ...JOB_SPECS["health-check"].options, jobId: healthChildJobId(runId, image) },
  }));
}

/**
 * Adds a child job per image to `queue`, under the run's job, in bulks of
 * 500. A child that fails does not hold up its parent (the run reports it).
 */
async function addChildren(
  job: Job,
  redis: RedisClient,
  prefix: string,
  queueName: string,
  images: readonly Sha256Id[],
  child: (image: Sha256Id) => { name: string; data: unknown; opts: JobsOptions },
): Promise<void> {
  const queue = new Queue(queueName, { connection: redis, prefix: bullPrefix(prefix) });
  const parent = { id: job.id ?? "", queue: job.queueQualifiedName };
  try {
    for (let i = 0; i < images.length; i += 500) {
      await queue.addBulk(
        images.slice(i, i + 500).map((image) => {
          const c = child(image);
          return { ...c, opts: { ...c.opts, parent, ignoreDependencyOnFailure: true } };
        }),
      );
    }
  } finally {
    await queue.close();
  }
}

/** What the store's images look like now: how many lack a verification within the window, how many are broken. */
export async function verifyCounts(
  store: ObjectStore,
  startedAt: number,
  outdatedAfterSeconds: number | undefined,
): Promise<ImageVerifyCounts> {
  const ids = new Set((await listImageRefs(store)).map((r) => r.id));
  const verifications = await listVerifications(store);
  let unverified = 0;
  let broken = 0;
  for (const id of ids) {
    const v = verifications.get(id);
    // Without a window, any record counts; with one, a record made before it does not.
    if (v === undefined || (outdatedAfterSeconds !== undefined && !recent(v.at, startedAt, outdatedAfterSeconds)))
      unverified++;
    if (v !== undefined && !v.ok) broken++;
  }
  return { unverified, broken };
}

/**
 * The children's verdicts and failures, as the run's report lists them. A
 * child's key is "<bull prefix>:<queue>:<job id>": health checks are the
 * children on a host's restore queue, verifications the others.
 */
export async function childVerdicts(
  job: Job,
  withHealthChecks: boolean,
): Promise<Pick<JobResult<"verify-run">, "verified" | "intact" | "broken" | "failed" | "healthChecks">> {
  const broken: JobResult<"verify-run">["broken"] = [];
  const failed: JobResult<"verify-run">["failed"] = [];
  const health = { passed: 0, failed: [] as Array<{ imageId: string; reason: string }> };
  const isHealthCheck = (key: string) => hostOfQueue(key.split(":").at(-2) ?? "") !== undefined;
  let intact = 0;
  for (const [key, value] of Object.entries(await job.getChildrenValues())) {
    if (isHealthCheck(key)) {
      const r = parseResult("health-check", value);
      if (r.passed) health.passed++;
      else health.failed.push({ imageId: r.imageId, reason: r.reason ?? "failed" });
      continue;
    }
    const r = parseResult("verify", value);
    if (r.ok) intact++;
    else broken.push({ imageId: r.imageId, key: r.problem?.key ?? "", reason: r.problem?.reason ?? "" });
  }
  for (const [key, reason] of Object.entries(await job.getIgnoredChildrenFailures())) {
    const entry = { imageId: key.slice(-64), reason: String(reason).slice(0, 1024) };
    if (isHealthCheck(key)) health.failed.push({ ...entry, reason: `could not run: ${entry.reason}`.slice(0, 1024) });
    else failed.push(entry);
  }
  broken.sort((a, b) => a.imageId.localeCompare(b.imageId));
  health.failed.sort((a, b) => a.imageId.localeCompare(b.imageId));
  return {
    verified: intact + broken.length,
    intact,
    broken,
    failed,
    ...(withHealthChecks ? { healthChecks: health } : {}),
  };
}

export interface VerifyRunOutcome {
  state: string;
  report?: JobResult<"verify-run">;
  error?: string;
}

/** Polls until the run has its report (or has failed). */
export async function waitForVerifyRun(
  redis: RedisClient,
  prefix: string,
  jobId: string,
  options: { signal?: AbortSignal; intervalMs?: number } = {},
): Promise<VerifyRunOutcome> {
  const queue = new Queue(CONTROLLER_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
  try {
    return await poll(
      `verify run ${jobId} to finish`,
      async () => {
        // The state first: completed and failed are final, so the job read after carries its result.
        const state = await queue.getJobState(jobId);
        if (state === "unknown") throw new JobNotFoundError(CONTROLLER_QUEUE, jobId);
        if (state !== "completed" && state !== "failed") return undefined;
        const job = await queue.getJob(jobId);
        if (state === "failed") return { state, error: job?.failedReason ?? "failed" };
        return { state, report: parseResult("verify-run", job?.returnvalue) };
      },
      { intervalMs: options.intervalMs ?? 300, ...(options.signal ? { signal: options.signal } : {}) },
    );
  } finally {
    await queue.close();
  }
}

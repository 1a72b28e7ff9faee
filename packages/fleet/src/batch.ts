/**
 * Starting a batch save: the expansion of "save these hosts" into a BullMQ
 * flow of one save job per domain under a batch-save parent, which the
 * controller turns into the batch report once every save has finished.
 *
 * Two ways in, one expansion: `startBatch` builds the whole flow at once (the
 * CLI); `expandInto` adds the children to a batch-save job that already
 * exists (a nightly run created by the job scheduler, which can only create
 * single jobs).
 */
import { randomBytes } from "node:crypto";
import { FlowProducer, Queue, type Job } from "bullmq";
import {
  batchSaveFlow,
  batchSaveJobId,
  bullPrefix,
  hostQueue,
  type BatchSaveTarget,
  type JobPayload,
  type RedisClient,
} from "@xenfleet/jobs";
import { getLimits } from "./limits.js";
import { batchTargets, type DuplicateDomain, type SkippedDomain } from "./targets.js";

export interface BatchOptions {
  store: string;
  mode: "checkpoint" | "live" | "suspend";
  labels: string[];
  /** Queue a compress job for each new image. */
  compress: boolean;
  /** Only these hosts; every registered host when absent. */
  hosts?: readonly string[];
}

export interface StartedBatch {
  batchId: string;
  /** The batch-save parent's job id on the controller queue. */
  jobId: string;
  total: number;
  skipped: SkippedDomain[];
  duplicates: DuplicateDomain[];
}

/** A fresh batch id: sortable by time, unique. */
export function newBatchId(kind = "batch"): string {
  return `${kind}-${new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, "")
    .slice(0, 14)}-${randomBytes(3).toString("hex")}`;
}

export async function startBatch(
  redis: RedisClient,
  prefix: string,
  options: BatchOptions & { batchId?: string },
): Promise<StartedBatch> {
  const batchId = options.batchId ?? newBatchId();
  const hosts = options.hosts === undefined ? undefined : [...options.hosts];
  const { targets, skipped, duplicates } = await batchTargets(redis, prefix, hosts);
  await applyHostLimits(redis, prefix, targets);
  const producer = new FlowProducer({ connection: redis, prefix: bullPrefix(prefix) });
  try {
    await producer.add(
      batchSaveFlow({
        prefix,
        batchId,
        store: options.store,
        mode: options.mode,
        labels: options.labels,
        compress: options.compress,
        ...(hosts !== undefined ? { hosts } : {}),
        targets,
      }),
    );
  } finally {
    await producer.close();
  }
  return { batchId, jobId: batchSaveJobId(batchId), total: targets.length, skipped, duplicates };
}

/**
 * Add one save child per domain of the payload's hosts to an existing
 * batch-save job (which must be active, held by the caller). Child ids are
 * deterministic, so expanding the same job twice (a controller that crashed
 * halfway) adds each save once.
 */
export async function expandInto(
  job: Job,
  payload: JobPayload<"batch-save">,
  redis: RedisClient,
  prefix: string,
  batchId: string,
  options: { compress: boolean },
): Promise<{ total: number; skipped: SkippedDomain[]; duplicates: DuplicateDomain[] }> {
  const { targets, skipped, duplicates } = await batchTargets(redis, prefix, payload.hosts);
  await applyHostLimits(redis, prefix, targets);
  const flow = batchSaveFlow({
    prefix,
    batchId,
    store: payload.store,
    mode: payload.mode,
    labels: payload.labels,
    compress: options.compress,
    ...(payload.hosts !== undefined ? { hosts: payload.hosts } : {}),
    targets,
  });
  const queues = new Map<string, Queue>();
  try {
    for (const child of flow.children ?? []) {
      let queue = queues.get(child.queueName);
      if (queue === undefined) {
        queue = new Queue(child.queueName, { connection: redis, prefix: bullPrefix(prefix) });
        queues.set(child.queueName, queue);
      }
      await queue.add(child.name, child.data, {
        ...child.opts,
        parent: { id: job.id ?? "", queue: job.queueQualifiedName },
      });
    }
  } finally {
    await Promise.all([...queues.values()].map((q) => q.close()));
  }
  return { total: targets.length, skipped, duplicates };
}

/** Each target host's save queue runs at most `hostSaves` jobs at once, however many workers it has. */
async function applyHostLimits(redis: RedisClient, prefix: string, targets: BatchSaveTarget[]): Promise<void> {
  const { hostSaves } = await getLimits(redis, prefix);
  for (const host of new Set(targets.map((t) => t.host))) {
    const queue = new Queue(hostQueue("save", host), { connection: redis, prefix: bullPrefix(prefix) });
    try {
      await queue.setGlobalConcurrency(hostSaves);
    } finally {
      await queue.close();
    }
  }
}

/**
 * Reading evacuations, for the CLI and the dashboard: each one's progress
 * per domain while it runs, then its report (where every domain went, what
 * failed and why).
 */
import { Queue, type Job } from "bullmq";
import {
  bullPrefix,
  CONTROLLER_QUEUE,
  parseProgress,
  parseResult,
  type JobResult,
  type RedisClient,
} from "@xenfleet/jobs";
import type { EvacuationProgress } from "./evacuation.js";

/** An evacuation's result in a JSON document: domains by name and uuid, like every command's. */
export function evacuationJson(r: JobResult<"evacuate">) {
  return {
    evacuationId: r.evacuationId,
    moved: r.moved,
    cold: r.cold,
    placements: (r.placements ?? []).map((x) => ({
      domain: x.domain.name,
      uuid: x.domain.uuid,
      from: x.from,
      to: x.to,
      mode: x.mode,
      attempts: x.attempts,
      tries: x.tries ?? [],
    })),
    failed: r.failed.map((f) => ({
      domain: f.domain.name,
      uuid: f.domain.uuid,
      host: f.host,
      reason: f.error,
      tries: f.tries ?? [],
    })),
    emptied: r.emptied ?? [],
    notEmpty: r.notEmpty ?? [],
    ...(r.seconds !== undefined ? { seconds: r.seconds } : {}),
  };
}

export type EvacuationReport = ReturnType<typeof evacuationJson>;

export interface EvacuationStatus {
  evacuationId: string;
  hosts: string[];
  state: string;
  createdAt: number;
  /** Per domain, while it runs (and as it last was once done). */
  progress?: EvacuationProgress;
  /** Present once it completed. */
  report?: EvacuationReport;
  /** Why the evacuation itself failed, when it did. */
  error?: string;
}

/** Evacuations known to the controller queue, newest first. */
export async function listEvacuations(redis: RedisClient, prefix: string, limit = 20): Promise<EvacuationStatus[]> {
  const queue = new Queue(CONTROLLER_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
  try {
    const jobs = await queue.getJobs(
      ["active", "waiting", "delayed", "completed", "failed", "prioritized"],
      0,
      limit * 3,
    );
    const evacuations = jobs.filter((j): j is Job => j !== undefined && j.name === "evacuate");
    evacuations.sort((a, b) => b.timestamp - a.timestamp);
    return await Promise.all(evacuations.slice(0, limit).map((j) => statusOf(queue, j)));
  } finally {
    await queue.close();
  }
}

async function statusOf(queue: Queue, listed: Job): Promise<EvacuationStatus> {
  // The state first, then the job: a completed job read after its state said so carries its result.
  const state = await queue.getJobState(listed.id ?? "");
  const job = (await queue.getJob(listed.id ?? "")) ?? listed;
  const data = job.data as { evacuationId?: unknown; hosts?: unknown };
  const progress = parseProgress("evacuate", job.progress);
  const status: EvacuationStatus = {
    evacuationId: typeof data.evacuationId === "string" ? data.evacuationId : (job.id ?? ""),
    hosts: Array.isArray(data.hosts) ? data.hosts.filter((h): h is string => typeof h === "string") : [],
    state,
    createdAt: job.timestamp,
  };
  if (progress !== undefined) {
    const { v: _v, ...rest } = progress;
    status.progress = rest;
  }
  if (state === "completed") status.report = evacuationJson(parseResult("evacuate", job.returnvalue));
  if (state === "failed") status.error = job.failedReason;
  return status;
}

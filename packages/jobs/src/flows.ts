/**
 * Flow builders. A flow is a tree of BullMQ jobs: a parent runs only after
 * all its children have finished, and can read their results. A batch save
 * is one parent (batch-save, on the controller queue) with one save child per
 * domain, each on its host's save queue.
 */
import type { FlowJob, Job } from "bullmq";
import { JOB_SPECS, type JobPayload, type JobResult } from "./job-types.js";
import { bullPrefix, CONTROLLER_QUEUE, hostOfQueue, hostQueue } from "./names.js";
import { jobData, parseResult } from "./parse-job.js";
import type { DomainRef } from "./schemas/common.js";

export interface BatchSaveTarget {
  host: string;
  domain: DomainRef;
}

export interface BatchSaveFlowInput {
  prefix: string;
  batchId: string;
  store: string;
  mode: "checkpoint" | "live" | "suspend";
  labels: string[];
  compress: boolean;
  /** The hosts filter the targets were chosen with (recorded in the parent's payload). */
  hosts?: string[];
  targets: BatchSaveTarget[];
}

/**
 * Job ids are derived from the batch, the host and the domain, so adding the
 * same batch twice (a controller retried after a crash) does not save twice,
 * and a domain uuid that two hosts report (a clone, or a domain caught
 * mid-migration) gives two saves, one per host, each with its own outcome.
 */
export function batchSaveJobId(batchId: string): string {
  return `batch-save-${batchId}`;
}

export function saveChildJobId(batchId: string, host: string, domainUuid: string): string {
  return `${batchId}-${host}-${domainUuid.toLowerCase()}`;
}

/** The FlowProducer tree for a batch save; pass it to `flowProducer.add()`. */
export function batchSaveFlow(input: BatchSaveFlowInput): FlowJob {
  const prefix = bullPrefix(input.prefix);
  const parent = jobData("batch-save", {
    batchId: input.batchId,
    store: input.store,
    mode: input.mode,
    labels: input.labels,
    total: input.targets.length,
    ...(input.hosts !== undefined ? { hosts: input.hosts } : {}),
  });
  return {
    name: "batch-save",
    queueName: CONTROLLER_QUEUE,
    prefix,
    data: parent,
    opts: { ...JOB_SPECS["batch-save"].options, jobId: batchSaveJobId(input.batchId) },
    children: input.targets.map((t) => ({
      name: "save",
      queueName: hostQueue("save", t.host),
      prefix,
      data: jobData("save", {
        host: t.host,
        domain: t.domain,
        store: input.store,
        mode: input.mode,
        labels: input.labels,
        compress: input.compress,
        batchId: input.batchId,
      }),
      opts: {
        ...JOB_SPECS.save.options,
        jobId: saveChildJobId(input.batchId, t.host, t.domain.uuid),
        // One domain failing to save must not hold up the nightly report:
        // the parent runs anyway and lists the failure.
        ignoreDependencyOnFailure: true,
      },
    })),
  };
}

/**
 * The batch report, computed by the controller when it processes the
 * batch-save parent: every child's image or failure reason.
 */
export async function batchSaveReport(
  job: Job,
  payload: JobPayload<"batch-save">,
): Promise<Omit<JobResult<"batch-save">, "v">> {
  const values = await job.getChildrenValues();
  const failures = await job.getIgnoredChildrenFailures();
  const outcomes: JobResult<"batch-save">["outcomes"] = [];
  let bytesNew = 0;
  for (const [key, value] of Object.entries(values)) {
    const result = parseResult("save", value);
    bytesNew += result.bytesNew;
    outcomes.push({ ...childOf(key), imageId: result.imageId });
  }
  for (const [key, reason] of Object.entries(failures)) {
    outcomes.push({ ...childOf(key), error: String(reason).slice(0, 1024) });
  }
  outcomes.sort((a, b) => a.host.localeCompare(b.host) || a.domain.localeCompare(b.domain));
  const failed = outcomes.filter((o) => o.error !== undefined).length;
  return {
    batchId: payload.batchId,
    total: payload.total,
    succeeded: outcomes.length - failed,
    failed,
    bytesNew,
    outcomes,
  };
}

/**
 * A child key is "<bull prefix>:<queue>:<job id>"; the job id ends with the
 * domain's uuid (36 characters), whether it is "<batch>-<host>-<uuid>" or a
 * child of a batch made before ids named the host, "<batch>-<uuid>".
 */
function childOf(key: string): { host: string; domain: string } {
  const parts = key.split(":");
  const jobId = parts.at(-1) ?? "";
  const queue = parts.at(-2) ?? "";
  return { host: hostOfQueue(queue) ?? queue, domain: jobId.slice(-UUID_LENGTH) };
}

const UUID_LENGTH = 36;

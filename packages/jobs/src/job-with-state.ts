import { type PollOptions, poll } from "@xenfleet/core";
import { Job, type JobState, type Queue } from "bullmq";
import { JobNotFoundError } from "./errors.js";

/**
 * A job and its state, the state read first. Read the other way round, a
 * job that finishes in between is seen finished but without its return
 * value or failure reason.
 */
export async function jobWithState(
  queue: Queue,
  id: string,
): Promise<{ state: JobState | "unknown"; job: Job | undefined }> {
  const state = await queue.getJobState(id);
  return { state, job: (await Job.fromId(queue, id)) ?? undefined };
}

/** A job that has completed or failed for good, read after its state said so. */
export interface FinishedJob {
  state: "completed" | "failed";
  job: Job;
}

/**
 * Polls until the job has completed or failed for good (retries are waited
 * out). A job that does not exist fails at once: waiting for it would never end.
 */
export function waitForJob(queue: Queue, id: string, options: PollOptions = {}): Promise<FinishedJob> {
  return poll(
    `job ${id} on ${queue.name} to finish`,
    async () => {
      const { state, job } = await jobWithState(queue, id);
      if (state === "unknown" || job === undefined) throw new JobNotFoundError(queue.name, id);
      return state === "completed" || state === "failed" ? { state, job } : undefined;
    },
    { intervalMs: 300, ...options },
  );
}

import { Job, type JobState, type Queue } from "bullmq";

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

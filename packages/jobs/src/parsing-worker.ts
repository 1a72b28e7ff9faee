/**
 * A BullMQ Worker that survives job data it cannot parse. BullMQ parses a
 * job's data and options with JSON.parse when it takes the job; data that
 * is not JSON (written to Redis by something other than a Queue) throws
 * there, before any processor runs, and the job is left active, stalls and
 * comes back forever. This worker builds such a job with empty data instead
 * and remembers why, so the processor can fail it once, as unrecoverable,
 * with the reason.
 */
import { type Job, type JobJson, Worker } from "bullmq";

const unparseable = new WeakMap<Job, string>();

export class ParsingWorker extends Worker {
  protected override createJob(data: JobJson, jobId: string): Job {
    try {
      return super.createJob(data, jobId);
    } catch (err) {
      const job = super.createJob({ ...data, data: "null" }, jobId);
      unparseable.set(job, `job data is not JSON (${err instanceof Error ? err.message.slice(0, 120) : String(err)})`);
      return job;
    }
  }
}

/** Why the job's data could not be parsed, or undefined when it could. */
export function unparseableReason(job: Job): string | undefined {
  return unparseable.get(job);
}

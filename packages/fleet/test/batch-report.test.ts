/**
 * Reading a batch while it finishes. Regression: the batch job was read
 * before its state, so a batch completing in between was seen "completed"
 * without its result, reading the report failed, and `batch-save --wait`
 * exited 1 with the batch in fact done.
 */
import { Queue, Worker } from "bullmq";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { deletePrefix, REDIS_URL, testPrefix } from "@xenfleet/jobs/testing";
import {
  bullPrefix,
  CONTROLLER_QUEUE,
  createRedis,
  JOB_SPECS,
  JobNotFoundError,
  jobData,
  jobResult,
  type RedisClient,
} from "@xenfleet/jobs";
import { waitForBatch } from "../src/index.js";

describe("waiting for a batch", () => {
  let redis: RedisClient;
  let prefix: string;

  beforeEach(() => {
    redis = createRedis(REDIS_URL, "worker", "fleet-batch-report-test");
    prefix = testPrefix();
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it("fails with JobNotFoundError for a batch no queue holds", async () => {
    const waiting = waitForBatch(redis, prefix, "no-such-batch");
    await expect(waiting).rejects.toBeInstanceOf(JobNotFoundError);
    await expect(waiting).rejects.toMatchObject({ code: "XF_JOB_NOT_FOUND", jobId: "no-such-batch" });
  });

  it("gets the report of a batch that completes while it is being read", async () => {
    const queue = new Queue(CONTROLLER_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
    // A worker taking jobs by hand, so the test decides when the batch completes.
    const worker = new Worker(CONTROLLER_QUEUE, null, { connection: redis, prefix: bullPrefix(prefix) });
    try {
      const payload = jobData("batch-save", {
        batchId: "b1",
        store: "main",
        mode: "checkpoint",
        labels: [],
        total: 0,
      });
      const added = await queue.add("batch-save", payload, JOB_SPECS["batch-save"].options);
      const token = "test-token";
      const active = await worker.getNextJob(token);
      expect(active?.id).toBe(added.id);
      const result = jobResult("batch-save", {
        batchId: "b1",
        total: 0,
        succeeded: 0,
        failed: 0,
        bytesNew: 0,
        outcomes: [],
      });

      // The first read of the job returns it as it was, and the batch completes right after.
      const getJob = Queue.prototype.getJob;
      let completed = false;
      vi.spyOn(Queue.prototype, "getJob").mockImplementation(async function (this: Queue, id: string) {
        const job = await getJob.call(this, id);
        if (!completed) {
          completed = true;
          await active?.moveToCompleted(result, token, false);
        }
        return job;
      });

      const done = await waitForBatch(redis, prefix, added.id ?? "", { intervalMs: 10 });
      expect(completed).toBe(true);
      expect(done.state).toBe("completed");
      expect(done.report).toMatchObject({ batchId: "b1", saved: 0, failed: 0 });
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});

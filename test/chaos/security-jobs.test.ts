/**
 * Hostile job producers: whoever can write to Redis can put anything in a
 * queue. A job whose data is not JSON fails once, as unrecoverable, with the
 * reason (it used to stall and come back forever); a host-bound job pushed
 * to another host's queue is refused there (it used to run).
 */
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bullPrefix,
  createLogger,
  createRedis,
  hostQueue,
  jobData,
  runWorker,
  type WorkerHandle,
  type RedisClient,
} from "@xenfleet/jobs";
import { SHARED_REDIS, chaosPrefix, deletePrefix, waitFor } from "./procs.js";

let conn: RedisClient;
let workerConn: RedisClient;
const prefix = chaosPrefix();
const logger = createLogger({ service: "security-jobs", level: "silent" });

beforeAll(() => {
  conn = createRedis(SHARED_REDIS, "producer", "xenfleet-chaos");
  workerConn = createRedis(SHARED_REDIS, "worker", "xenfleet-chaos");
});
afterAll(async () => {
  await deletePrefix(conn, prefix);
  await conn.quit();
  await workerConn.quit();
});

function savePayload(host: string) {
  return jobData("save", {
    host,
    domain: { uuid: "5f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b", name: "web1" },
    store: "main",
    mode: "checkpoint",
    labels: [],
    compress: false,
  });
}

/** Runs a save worker for `host` whose handler counts its calls, until `job` has failed. */
async function runUntilFailed(queue: Queue, host: string, jobId: string) {
  let handled = 0;
  const handle: WorkerHandle = runWorker({
    queue: hostQueue("save", host),
    connection: workerConn,
    prefix,
    logger,
    handlers: {
      save: async () => {
        handled++;
        throw new Error("the handler must not run");
      },
    },
    // Short stall settings: a job left active by an unparseable read comes back quickly (the old loop).
    stall: { lockDuration: 2000, stalledInterval: 1000, maxStalledCount: 100 },
  });
  try {
    const failed = await waitFor(async () => (await queue.getJobState(jobId)) === "failed", 30_000);
    // Read the job's hash as stored: BullMQ's own getJob would parse the data again.
    const job = await conn.hgetall(`${bullPrefix(prefix)}:${queue.name}:${jobId}`);
    return { failed, handled, job };
  } finally {
    await handle.stop();
  }
}

describe("job producers cannot make a worker loop or act for another host", () => {
  it("a job whose data is not JSON fails once, as unrecoverable, with the reason", async () => {
    const queue = new Queue(hostQueue("save", "host-1"), { connection: conn, prefix: bullPrefix(prefix) });
    try {
      const job = await queue.add("save", savePayload("host-1"), { attempts: 5 });
      // Written behind BullMQ's back, as anything with access to Redis could.
      await conn.hset(`${bullPrefix(prefix)}:${hostQueue("save", "host-1")}:${job.id}`, "data", "{not json");
      const { failed, handled, job: after } = await runUntilFailed(queue, "host-1", job.id!);
      expect(failed).toBe(true);
      expect(handled).toBe(0);
      expect(after.failedReason).toMatch(/XF_JOB_INVALID.*not JSON/);
      // Once: no retries spent, no stalls counted.
      expect(after.atm).toBe("1");
      expect(after.stc ?? "0").toBe("0");
    } finally {
      await queue.close();
    }
  });

  it("a save job pushed to another host's queue fails as unrecoverable and does not run", async () => {
    const queue = new Queue(hostQueue("save", "host-2"), { connection: conn, prefix: bullPrefix(prefix) });
    try {
      const job = await queue.add("save", savePayload("host-1"), { attempts: 5 });
      const { failed, handled, job: after } = await runUntilFailed(queue, "host-2", job.id!);
      expect(failed).toBe(true);
      expect(handled).toBe(0);
      expect(after.failedReason).toMatch(/for host host-1, but this worker serves host-2/);
      expect(after.atm).toBe("1");
    } finally {
      await queue.close();
    }
  });
});

/**
 * Batch expansion against a real Redis, with hosts registered as their
 * agents would: which domains a batch saves, and what its payload records.
 */
import { Queue, WaitingChildrenError } from "bullmq";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deletePrefix, REDIS_URL, testPrefix } from "@xenfleet/jobs/testing";
import {
  bullPrefix,
  CONTROLLER_QUEUE,
  createLogger,
  createRedis,
  heartbeat,
  hostQueue,
  JOB_SPECS,
  jobData,
  runWorker,
  type WorkerHandle,
  type RedisClient,
} from "@xenfleet/jobs";
import { expandInto, startBatch } from "../src/index.js";

const STORE = "main";
const uuid = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, "0")}`;

describe("batch expansion", () => {
  let redis: RedisClient;
  let prefix: string;
  const queues: Queue[] = [];
  const handles: WorkerHandle[] = [];

  const queue = (name: string) => {
    const q = new Queue(name, { connection: redis, prefix: bullPrefix(prefix) });
    queues.push(q);
    return q;
  };
  /** Registers a host running the given domains, as its save worker's agent does. */
  const register = (id: string, domains: Array<{ uuid: string; name: string }>) =>
    heartbeat(
      redis,
      prefix,
      {
        v: 1,
        id,
        address: "127.0.0.1",
        memoryTotal: 2 ** 32,
        memoryFree: 2 ** 31,
        tags: [],
        domains: domains.map((d) => ({ ...d, memory: 2 ** 20, state: "running" as const })),
      },
      60_000,
    );
  const waitingOn = async (host: string) =>
    (await queue(hostQueue("save", host)).getJobs(["waiting", "prioritized"]))
      .map((j) => j.data.domain.name as string)
      .sort();

  beforeEach(async () => {
    redis = createRedis(REDIS_URL, "worker", "fleet-batch-test");
    prefix = testPrefix();
    await register("h1", [{ uuid: uuid(1), name: "a" }]);
    await register("h2", [
      { uuid: uuid(2), name: "b" },
      { uuid: uuid(3), name: "c" },
    ]);
    await register("h3", [{ uuid: uuid(4), name: "d" }]);
  });

  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.stop()));
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it("started with hosts, records them in the batch's payload and saves only their domains", async () => {
    const batch = await startBatch(redis, prefix, {
      store: STORE,
      mode: "checkpoint",
      labels: [],
      compress: false,
      hosts: ["h2", "h3"],
    });
    expect(batch.total).toBe(3);
    const parent = await queue(CONTROLLER_QUEUE).getJob(batch.jobId);
    expect(parent?.data).toMatchObject({ v: 3, hosts: ["h2", "h3"], total: 3 });
    expect(await waitingOn("h1")).toEqual([]);
    expect(await waitingOn("h2")).toEqual(["b", "c"]);
    expect(await waitingOn("h3")).toEqual(["d"]);
  });

  it("expanded by the controller, follows the hosts in the payload", async () => {
    handles.push(
      runWorker({
        queue: CONTROLLER_QUEUE,
        connection: redis,
        prefix,
        logger: createLogger({ service: "test", level: "silent" }),
        handlers: {
          "batch-save": async (payload, { job }) => {
            await expandInto(job, payload, redis, prefix, "scheduled-1", { compress: false });
            if (await job.moveToWaitingChildren(job.token ?? "")) throw new WaitingChildrenError();
            throw new Error("expected children to wait for");
          },
        },
      }),
    );
    const payload = jobData("batch-save", {
      batchId: "nightly",
      store: STORE,
      mode: "checkpoint",
      labels: ["nightly"],
      total: 0,
      hosts: ["h1", "h3"],
    });
    const parent = await queue(CONTROLLER_QUEUE).add("batch-save", payload, JOB_SPECS["batch-save"].options);
    for (let i = 0; i < 200 && (await parent.getState()) !== "waiting-children"; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(await parent.getState()).toBe("waiting-children");
    expect(await waitingOn("h1")).toEqual(["a"]);
    expect(await waitingOn("h2")).toEqual([]);
    expect(await waitingOn("h3")).toEqual(["d"]);
  });

  it("saves a uuid that two hosts report on each of them, and lists it as a duplicate", async () => {
    await register("h3", [{ uuid: uuid(2), name: "b-clone" }]);
    const batch = await startBatch(redis, prefix, { store: STORE, mode: "checkpoint", labels: [], compress: false });
    expect(batch.duplicates).toEqual([{ uuid: uuid(2), hosts: ["h2", "h3"] }]);
    expect(batch.total).toBe(4);
    expect(await waitingOn("h2")).toEqual(["b", "c"]);
    expect(await waitingOn("h3")).toEqual(["b-clone"]);
  });
});

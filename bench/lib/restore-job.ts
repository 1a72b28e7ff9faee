/**
 * A restore through the fleet, timed from the job's queueing to its domain
 * running: a restore-worker process (started, and its start-up excluded,
 * before the first job) serving one sim host, Redis and BullMQ between. And
 * the same restore run directly in this process (restoreImage, no queue),
 * so the queue's own cost shows as a ratio.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Queue } from "bullmq";
import { serviceCommand, Supervisor } from "@xenfleet/fleet";
import { SimHost } from "@xenfleet/hypervisor";
import { bullPrefix, createRedis, hostQueue, JOB_SPECS, jobData, keys, waitForJob } from "@xenfleet/jobs";
import { openStore } from "@xenfleet/store";
import { restoreImage } from "@xenfleet/transfer";

const HOST = "bench";

export interface RestoreJobTimes {
  job: number[];
  direct: number[];
}

/** `rounds` restores of `imageId` from the store at `storeDir` each way, the two taking turns. */
export async function timeRestoreJobs(
  dir: string,
  storeDir: string,
  imageId: string,
  memoryBytes: number,
  rounds: number,
): Promise<RestoreJobTimes> {
  const redisUrl = process.env.XENFLEET_REDIS ?? "redis://127.0.0.1:6379";
  const prefix = `xfbench-${randomBytes(4).toString("hex")}`;
  const simDir = join(dir, "sim-restore");
  const sim = await SimHost.open(simDir, { name: HOST, totalMemoryBytes: 2 * memoryBytes + 256 * 2 ** 20 });
  const redis = createRedis(redisUrl, "producer", "bench-restore");
  const queue = new Queue(hostQueue("restore", HOST), { connection: redis, prefix: bullPrefix(prefix) });
  const supervisor = new Supervisor({ logDir: join(dir, "logs") });
  const store = await openStore(pathToFileURL(storeDir).href, {});
  const times: RestoreJobTimes = { job: [], direct: [] };
  try {
    supervisor.start([
      {
        name: "restore-worker",
        ...serviceCommand("restore-worker"),
        env: {
          PATH: process.env.PATH ?? "",
          XENFLEET_REDIS: redisUrl,
          XENFLEET_PREFIX: prefix,
          XENFLEET_STORE: pathToFileURL(storeDir).href,
          XENFLEET_HOST: HOST,
          XENFLEET_SIM_DIR: simDir,
          XENFLEET_LOG_LEVEL: "warn",
        },
      },
    ]);
    // A first job warms the worker (its modules, its store) and is not counted.
    await restoreByJob(queue, imageId, sim);
    for (let i = 0; i < rounds; i++) {
      times.job.push(await restoreByJob(queue, imageId, sim));
      const started = performance.now();
      const { domain } = await restoreImage({ hypervisor: sim, store, host: HOST, imageId, uuid: randomUUID() });
      times.direct.push((performance.now() - started) / 1000);
      await sim.destroy(domain.uuid);
    }
    return times;
  } finally {
    await supervisor.stop();
    await queue.close();
    for (const key of await redis.keys(keys.all(prefix))) await redis.del(key);
    await redis.quit();
    await store.close();
  }
}

/** Queues a restore under a new uuid, waits until it completed, destroys the domain; returns the seconds to completion. */
async function restoreByJob(queue: Queue, imageId: string, sim: SimHost): Promise<number> {
  const started = performance.now();
  const job = await queue.add(
    "restore",
    jobData("restore", { host: HOST, store: "main", image: imageId, uuid: randomUUID(), paused: false }),
    { ...JOB_SPECS.restore.options, attempts: 1 },
  );
  const { state, job: done } = await waitForJob(queue, job.id!, { timeoutMs: 600_000, intervalMs: 20 });
  const seconds = (performance.now() - started) / 1000;
  if (state !== "completed") throw new Error(`restore job ${state}: ${done.failedReason}`);
  const { domain } = done.returnvalue as { domain: { uuid: string } };
  await sim.destroy(domain.uuid);
  return seconds;
}

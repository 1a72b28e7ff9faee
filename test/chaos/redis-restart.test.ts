/**
 * Redis killed and restarted in the middle of a batch save. The suite runs
 * its own redis-server (append-only file, fsync always) so the queued jobs
 * survive the restart; the controller, the save workers and the compress
 * worker reconnect by themselves. Afterwards the batch has a report, every
 * job settled, and the invariants hold.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBatch, waitForBatch } from "@xenfleet/fleet";
import { SimHost } from "@xenfleet/hypervisor";
import { bullPrefix, COMPRESS_QUEUE, CONTROLLER_QUEUE, createRedis, hostQueue, listHosts } from "@xenfleet/jobs";
import { openStore } from "@xenfleet/store";
import {
  checkDomains,
  checkGcKeepsReachable,
  checkNoPartialImages,
  checkRefsExport,
  waitForJobsSettled,
  type ExpectedDomain,
} from "./invariants.js";
import { RedisServer, ServiceProc, chaosPrefix, sleep, tempDir, until } from "./procs.js";

const MiB = 2 ** 20;
const HOSTS = ["r1", "r2"];
const DOMAINS_PER_HOST = 10;
const STATES = ["completed", "failed", "waiting", "active", "delayed", "prioritized", "waiting-children"] as const;

describe("Redis restarted in the middle of a batch", () => {
  const prefix = chaosPrefix();
  const dir = tempDir();
  const storeUrl = pathToFileURL(join(dir, "store")).href;
  const simDir = (host: string) => join(dir, "hosts", host);
  const procs: ServiceProc[] = [];
  const expected: ExpectedDomain[] = [];
  let redis: RedisServer;
  let conn: Redis;

  beforeAll(async () => {
    redis = await RedisServer.start(join(dir));
    conn = createRedis(redis.url, "worker", "xenfleet-chaos");
    // Refused connections while Redis is down are expected; ioredis reconnects by itself.
    conn.on("error", () => undefined);
    for (const host of HOSTS) {
      const sim = await SimHost.open(simDir(host), { name: host, totalMemoryBytes: 256 * MiB });
      for (let i = 0; i < DOMAINS_PER_HOST; i++) {
        const d = await sim.createDomain({
          name: `${host}-d${i}`,
          type: i % 2 === 0 ? "pv" : "hvm",
          memoryBytes: 4 * MiB,
        });
        expected.push({ uuid: d.uuid, name: d.name, digest: (await sim.digest(d.uuid)).digest });
      }
    }
    const env = {
      XENFLEET_REDIS: redis.url,
      XENFLEET_PREFIX: prefix,
      XENFLEET_STORE: storeUrl,
      XENFLEET_LOG_LEVEL: "info",
    };
    procs.push(new ServiceProc("controller", "controller", env, dir));
    procs.push(new ServiceProc("compress", "compress-worker", env, dir));
    for (const host of HOSTS) {
      procs.push(
        new ServiceProc(
          `save-${host}`,
          "save-worker",
          {
            ...env,
            XENFLEET_HOST: host,
            XENFLEET_SIM_DIR: simDir(host),
            XENFLEET_HEARTBEAT_MS: "500",
            XENFLEET_HOST_ADDRESS: "127.0.0.1",
          },
          dir,
        ),
      );
    }
    for (const p of procs) p.start();
    await until(
      "both hosts up",
      async () =>
        (await listHosts(conn, prefix)).filter((h) => h.state === "up").length === HOSTS.length ? true : undefined,
      60_000,
    );
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    conn?.disconnect();
    await redis?.kill();
    if (process.env.CHAOS_KEEP === "1") console.log(`chaos: logs and state kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it("the batch completes, with every save and compression settled, and nothing lost", async () => {
    const started = await startBatch(conn, prefix, { store: "main", mode: "checkpoint", labels: [], compress: true });
    expect(started.total).toBe(HOSTS.length * DOMAINS_PER_HOST);

    const saveQueues = HOSTS.map(
      (h) => new Queue(hostQueue("save", h), { connection: conn, prefix: bullPrefix(prefix) }),
    );
    try {
      // Mid-batch: some saves done, most not.
      await until("the first saves", async () => {
        const done = await Promise.all(saveQueues.map((q) => q.getCompletedCount()));
        return done.reduce((a, b) => a + b, 0) >= 2 ? true : undefined;
      });
      // An outage, not a shutdown: SIGKILL, a few seconds down, then back on the same port and files.
      await redis.kill();
      await sleep(3000);
      await redis.start();

      const done = await waitForBatch(conn, prefix, started.jobId, { intervalMs: 200 });
      expect(done.error).toBeUndefined();
      console.log(JSON.stringify({ chaos: "redis-restart", report: done.report }));
      expect(done.report).toMatchObject({ saved: HOSTS.length * DOMAINS_PER_HOST, failed: 0 });

      // Every job on every queue settles (compressions included).
      const queueNames = [...HOSTS.map((h) => hostQueue("save", h)), COMPRESS_QUEUE, CONTROLLER_QUEUE];
      const jobsNow = async () => {
        const out: { queue: string; id: string }[] = [];
        for (const name of queueNames) {
          const q = new Queue(name, { connection: conn, prefix: bullPrefix(prefix) });
          try {
            for (const job of await q.getJobs([...STATES])) out.push({ queue: name, id: job.id! });
          } finally {
            await q.close();
          }
        }
        return out;
      };
      const settled = await waitForJobsSettled(conn, prefix, jobsNow, 180_000);
      expect(settled.violations).toEqual([]);
      expect(settled.outcomes.filter((o) => o.name === "compress").length).toBe(HOSTS.length * DOMAINS_PER_HOST);
    } finally {
      await Promise.all(saveQueues.map((q) => q.close()));
    }

    await Promise.all(procs.map((p) => p.stop()));
    expect(await checkDomains(HOSTS.map(simDir), expected)).toEqual([]);
    const store = await openStore(storeUrl, {});
    try {
      const refs = await checkRefsExport(store);
      expect(refs.violations).toEqual([]);
      expect(refs.images).toBe(HOSTS.length * DOMAINS_PER_HOST);
      expect((await checkNoPartialImages(store)).violations).toEqual([]);
      // Every worker is stopped: no import lock in the store is alive.
      expect((await checkGcKeepsReachable(store, 3000)).violations).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

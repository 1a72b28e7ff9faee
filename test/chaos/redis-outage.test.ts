/**
 * Redis lost in the middle of a batch save, two ways:
 *
 * - restarted: killed (SIGKILL) and started again a few seconds later on
 *   the same port and files. The suite's own redis-server keeps an
 *   append-only file with fsync always, so the queued jobs survive.
 * - failed over: the master killed for good with Sentinel watching; the
 *   replica is promoted, and the services, connected through
 *   redis+sentinel://, find the new master by themselves.
 *
 * Either way the controller, the save workers and the compress worker
 * reconnect by themselves; afterwards the batch has a report, every job
 * settled, every domain has its image, and the invariants hold.
 *
 * Replication is asynchronous: a write the master acknowledged just before
 * it died may not have reached the replica. For a job that is a completion
 * the new master never saw: the job is active again, its lock expires, and
 * it runs again (BullMQ's stalled-job check). A save run twice files a
 * second image of the same domain; nothing is lost, and retention removes
 * the extra image like any other. So after a failover a domain may have
 * more than one image, never none.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBatch, waitForBatch } from "@xenfleet/fleet";
import {
  bullPrefix,
  COMPRESS_QUEUE,
  CONTROLLER_QUEUE,
  createRedis,
  hostQueue,
  listHosts,
  type RedisClient,
} from "@xenfleet/jobs";
import { listImageRefs } from "@xenfleet/image";
import { openStore } from "@xenfleet/store";
import {
  checkDomains,
  checkGcKeepsReachable,
  checkNoPartialImages,
  checkRefsExport,
  waitForJobsSettled,
  simHostWithIdleDomains,
  type ExpectedDomain,
} from "./invariants.js";
import { RedisServer, SentinelRedis, ServiceProc, chaosPrefix, sleep, tempDir, until } from "./procs.js";

const MiB = 2 ** 20;
const HOSTS = ["r1", "r2"];
const DOMAINS_PER_HOST = 10;
const STATES = ["completed", "failed", "waiting", "active", "delayed", "prioritized", "waiting-children"] as const;

/** A Redis of the suite's own, and the outage it suffers. */
interface Outage {
  readonly url: string;
  /** Takes Redis away mid-batch (and, for a restart, brings it back). */
  hit(): Promise<void>;
  /** Checks that the outage happened as meant, after the batch. */
  check(): Promise<void>;
  stop(): Promise<void>;
}

const OUTAGES: Array<[string, (dir: string) => Promise<Outage & { exactlyOnce: boolean }>]> = [
  [
    "restarted",
    async (dir) => {
      const redis = await RedisServer.start(dir);
      return {
        url: redis.url,
        exactlyOnce: true,
        // An outage, not a shutdown: SIGKILL, a few seconds down, then back on the same port and files.
        hit: async () => {
          await redis.kill();
          await sleep(3000);
          await redis.start();
        },
        check: async () => {},
        stop: () => redis.kill(),
      };
    },
  ],
  [
    "failed over by Sentinel",
    async (dir) => {
      const redis = await SentinelRedis.start(join(dir, "redis"));
      return {
        url: redis.url,
        exactlyOnce: false,
        // The master dies for good; Sentinel promotes the replica.
        hit: () => redis.master.kill(),
        // The batch finished on the promoted replica.
        check: async () => expect(await redis.currentMasterPort()).toBe(redis.replica.port),
        stop: () => redis.stop(),
      };
    },
  ],
];

describe.each(OUTAGES)("Redis %s in the middle of a batch", (how, startRedis) => {
  const prefix = chaosPrefix();
  const dir = tempDir();
  const storeUrl = pathToFileURL(join(dir, "store")).href;
  const simDir = (host: string) => join(dir, "hosts", host);
  const procs: ServiceProc[] = [];
  const expected: ExpectedDomain[] = [];
  let redis: Outage & { exactlyOnce: boolean };
  let conn: RedisClient;

  beforeAll(async () => {
    redis = await startRedis(dir);
    conn = createRedis(redis.url, "worker", "xenfleet-chaos");
    // Refused connections while Redis is down are expected; ioredis reconnects by itself.
    conn.on("error", () => undefined);
    for (const host of HOSTS)
      expected.push(...(await simHostWithIdleDomains(simDir(host), host, DOMAINS_PER_HOST, 4 * MiB)));
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
    await redis?.stop();
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
      await redis.hit();

      const done = await waitForBatch(conn, prefix, started.jobId, { intervalMs: 200 });
      expect(done.error).toBeUndefined();
      await redis.check();
      console.log(JSON.stringify({ chaos: `redis ${how}`, report: done.report }));
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
      const compressions = settled.outcomes.filter((o) => o.name === "compress").length;
      if (redis.exactlyOnce) expect(compressions).toBe(HOSTS.length * DOMAINS_PER_HOST);
      else expect(compressions).toBeGreaterThanOrEqual(HOSTS.length * DOMAINS_PER_HOST);
    } finally {
      await Promise.all(saveQueues.map((q) => q.close()));
    }

    await Promise.all(procs.map((p) => p.stop()));
    expect(await checkDomains(HOSTS.map(simDir), expected)).toEqual([]);
    const store = await openStore(storeUrl, {});
    try {
      const refs = await checkRefsExport(store);
      expect(refs.violations).toEqual([]);
      const domains = new Set((await listImageRefs(store)).map((r) => r.domain));
      expect(domains.size).toBe(HOSTS.length * DOMAINS_PER_HOST);
      if (redis.exactlyOnce) expect(refs.images).toBe(HOSTS.length * DOMAINS_PER_HOST);
      else expect(refs.images).toBeGreaterThanOrEqual(HOSTS.length * DOMAINS_PER_HOST);
      expect((await checkNoPartialImages(store)).violations).toEqual([]);
      // Every worker is stopped: no import lock in the store is alive.
      expect((await checkGcKeepsReachable(store, 3000)).violations).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

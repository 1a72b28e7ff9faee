/**
 * The fleet on a Redis Cluster of its own: 3 masters, each with a replica,
 * reached through redis+cluster:// by the controller, the save, restore and
 * compress workers and this test alike.
 *
 * Every key of the fleet (BullMQ's and the registry's, limits, migration
 * records) is under the prefix's hash tag, so it lives in one slot, on one
 * master: BullMQ's flow scripts and the registry's script touch many keys at
 * once, which a cluster allows only within one slot. The suite runs a batch
 * save with compression and a restore, then kills the master serving that
 * slot in the middle of a second batch: its replica takes the slot over,
 * the services find it by themselves (ioredis follows the cluster's MOVED
 * answers and asks again for the slots), and the batch completes.
 *
 * Replication is asynchronous, as under Sentinel: a completion the old
 * master acknowledged just before it died may be missing on its replica, and
 * that job runs again. So after the failover a domain may have an extra
 * image, never none.
 */
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBatch, waitForBatch } from "@xenfleet/fleet";
import { SimHost } from "@xenfleet/hypervisor";
import { listImageRefs } from "@xenfleet/image";
import {
  bullPrefix,
  COMPRESS_QUEUE,
  CONTROLLER_QUEUE,
  createRedis,
  forgetDownHost,
  getHost,
  hostQueue,
  jobData,
  JOB_SPECS,
  keys,
  listHosts,
  type RedisClient,
  scanKeys,
} from "@xenfleet/jobs";
import { MigrationRecord } from "@xenfleet/migration";
import { openStore } from "@xenfleet/store";
import {
  checkDomains,
  checkNoPartialImages,
  checkRefsExport,
  waitForJobsSettled,
  simHostWithIdleDomains,
  type ExpectedDomain,
} from "./invariants.js";
import { chaosPrefix, ROOT, RedisCluster, type RedisServer, ServiceProc, tempDir, until } from "./procs.js";

const run = promisify(execFile);
const MiB = 2 ** 20;
/** Hosts with domains to save; RESTORE_HOST starts empty and receives a restore. */
const HOSTS = ["c1", "c2"];
const RESTORE_HOST = "c3";
const DOMAINS_PER_HOST = 6;
const TOTAL = HOSTS.length * DOMAINS_PER_HOST;
const STATES = ["completed", "failed", "waiting", "active", "delayed", "prioritized", "waiting-children"] as const;

describe("the fleet on a Redis Cluster", () => {
  const prefix = chaosPrefix();
  const dir = tempDir();
  const storeUrl = pathToFileURL(join(dir, "store")).href;
  const simDir = (host: string) => join(dir, "hosts", host);
  const procs: ServiceProc[] = [];
  const expected: ExpectedDomain[] = [];
  let cluster: RedisCluster;
  let conn: RedisClient;

  beforeAll(async () => {
    cluster = await RedisCluster.start(join(dir, "redis"), 3, 1);
    conn = createRedis(cluster.url, "worker", "xenfleet-chaos");
    // A master lost mid-batch makes refused connections until its replica takes over.
    conn.on("error", () => undefined);
    for (const host of HOSTS)
      expected.push(...(await simHostWithIdleDomains(simDir(host), host, DOMAINS_PER_HOST, 4 * MiB)));
    await SimHost.open(simDir(RESTORE_HOST), { name: RESTORE_HOST, totalMemoryBytes: 256 * MiB });
    const env = {
      XENFLEET_REDIS: cluster.url,
      XENFLEET_PREFIX: prefix,
      XENFLEET_STORE: storeUrl,
      XENFLEET_LOG_LEVEL: "info",
    };
    const hostEnv = (host: string) => ({
      ...env,
      XENFLEET_HOST: host,
      XENFLEET_SIM_DIR: simDir(host),
      XENFLEET_HEARTBEAT_MS: "500",
      XENFLEET_HOST_ADDRESS: "127.0.0.1",
    });
    procs.push(new ServiceProc("controller", "controller", env, dir));
    procs.push(new ServiceProc("compress", "compress-worker", env, dir));
    for (const host of [...HOSTS, RESTORE_HOST])
      procs.push(new ServiceProc(`save-${host}`, "save-worker", hostEnv(host), dir));
    procs.push(new ServiceProc(`restore-${RESTORE_HOST}`, "restore-worker", hostEnv(RESTORE_HOST), dir));
    for (const p of procs) p.start();
    await until(
      "every host up",
      async () => ((await listHosts(conn, prefix)).filter((h) => h.state === "up").length === 3 ? true : undefined),
      60_000,
    );
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    conn?.disconnect();
    await cluster?.stop();
    if (process.env.CHAOS_KEEP === "1") console.log(`chaos: logs and state kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  /** Every job now on the fleet's queues. */
  async function jobsNow(): Promise<{ queue: string; id: string }[]> {
    const names = [...[...HOSTS, RESTORE_HOST].map((h) => hostQueue("save", h)), COMPRESS_QUEUE, CONTROLLER_QUEUE];
    const out: { queue: string; id: string }[] = [];
    for (const name of names) {
      const q = new Queue(name, { connection: conn, prefix: bullPrefix(prefix) });
      try {
        for (const job of await q.getJobs([...STATES])) out.push({ queue: name, id: job.id! });
      } finally {
        await q.close();
      }
    }
    return out;
  }

  /**
   * A batch of every domain with compression; `midway` runs once the first
   * saves are done, told how many are. Returns the compressions run.
   */
  async function batch(midway?: (savedSoFar: number) => Promise<void>): Promise<number> {
    const before = new Set((await jobsNow()).map((j) => `${j.queue}/${j.id}`));
    const started = await startBatch(conn, prefix, { store: "main", mode: "checkpoint", labels: [], compress: true });
    expect(started.total).toBe(TOTAL);
    if (midway !== undefined) {
      const saveQueues = HOSTS.map(
        (h) => new Queue(hostQueue("save", h), { connection: conn, prefix: bullPrefix(prefix) }),
      );
      const completed = async () =>
        (await Promise.all(saveQueues.map((q) => q.getCompletedCount()))).reduce((a, b) => a + b, 0);
      let savedSoFar: number;
      try {
        // Saves of an earlier batch are completed already: count this batch's from what is there now.
        const earlier = await completed();
        await until("the first saves of the batch", async () =>
          (await completed()) >= earlier + 2 ? true : undefined,
        );
        savedSoFar = (await completed()) - earlier;
      } finally {
        await Promise.all(saveQueues.map((q) => q.close()));
      }
      await midway(savedSoFar);
    }
    const done = await waitForBatch(conn, prefix, started.jobId, { intervalMs: 200 });
    expect(done.error).toBeUndefined();
    expect(done.report).toMatchObject({ saved: TOTAL, failed: 0 });
    const settled = await waitForJobsSettled(conn, prefix, jobsNow, 180_000);
    expect(settled.violations).toEqual([]);
    return settled.outcomes.filter((o) => o.name === "compress" && !before.has(`${o.queue}/${o.id}`)).length;
  }

  it("runs a batch save with compression: every job settles, one image per domain, every key in the prefix's slot", async () => {
    expect(await batch()).toBe(TOTAL);

    // All of the fleet's keys are on the master serving the prefix's slot, none elsewhere.
    const owner = await cluster.masterOf(keys.hosts(prefix));
    const counts = await cluster.keyCounts();
    expect(counts.get(owner)).toBeGreaterThan(TOTAL);
    for (const [node, count] of counts) if (node !== owner) expect(count).toBe(0);

    // SCAN reaches them on a cluster too (it scans every master).
    let scanned = 0;
    for await (const found of scanKeys(conn, keys.all(prefix))) scanned += found.length;
    expect(scanned).toBe(counts.get(owner));
    // Keys in many slots, so on every master: SCAN finds each of them.
    const probes = Array.from({ length: 30 }, (_, i) => `probe:{${prefix}-${i}}`);
    for (const key of probes) await conn.set(key, "1");
    try {
      expect([...(await cluster.keyCounts()).values()].every((n) => n > 0)).toBe(true);
      const found: string[] = [];
      for await (const batch of scanKeys(conn, `probe:{${prefix}-*`)) found.push(...batch);
      expect(new Set(found)).toEqual(new Set(probes));
    } finally {
      for (const key of probes) await conn.del(key);
    }

    const store = await openStore(storeUrl, {});
    try {
      expect((await listImageRefs(store)).length).toBe(TOTAL);
    } finally {
      await store.close();
    }
  });

  it("answers the CLI through the cluster URL", async () => {
    const cli = join(ROOT, "packages", "cli", "src", "main.ts");
    const { stdout } = await run(
      process.execPath,
      ["--conditions=source", "--import", "tsx", cli, "hosts", "--json", "--redis", cluster.url, "--prefix", prefix],
      { cwd: ROOT },
    );
    const listed = JSON.parse(stdout) as { ok: boolean; hosts: { host: string; state: string }[] };
    expect(listed.ok).toBe(true);
    expect(listed.hosts.map((h) => [h.host, h.state])).toEqual([...HOSTS, RESTORE_HOST].map((h) => [h, "up"]));
  });

  it("restores an image onto another host, where its memory digest equals the original's", async () => {
    const original = expected[0]!;
    const store = await openStore(storeUrl, {});
    let image: string;
    try {
      image = (await listImageRefs(store, original.uuid))[0]!.id;
    } finally {
      await store.close();
    }
    const q = new Queue(hostQueue("restore", RESTORE_HOST), { connection: conn, prefix: bullPrefix(prefix) });
    try {
      const job = await q.add(
        "restore",
        jobData("restore", { host: RESTORE_HOST, store: "main", image, paused: true }),
        { ...JOB_SPECS.restore.options, attempts: 1 },
      );
      const state = await until("the restore to finish", async () => {
        const s = await q.getJobState(job.id!);
        return s === "completed" || s === "failed" ? s : undefined;
      });
      expect((await q.getJob(job.id!))?.failedReason).toBeUndefined();
      expect(state).toBe("completed");
    } finally {
      await q.close();
    }
    const copy = await SimHost.open(simDir(RESTORE_HOST));
    expect((await copy.digest(original.uuid)).digest).toBe(original.digest);
    // The copy goes again, so the next batch saves each domain once; wait until the registry says so.
    await copy.destroy(original.uuid);
    await until("the restore host to stop listing the copy", async () =>
      (await getHost(conn, prefix, RESTORE_HOST))?.info?.domains.length === 0 ? true : undefined,
    );
  });

  it("reports a migration's outcome only once the replica of the record's master holds it", async () => {
    const owner = await cluster.masterOf(keys.migration(prefix, "m-cluster"));
    const replica = await cluster.replicaOf(owner);
    const record = new MigrationRecord(conn, prefix, "m-cluster");
    await record.set({ source: HOSTS[0]!, target: HOSTS[1]! });
    // A frozen replica cannot acknowledge: decide waits (WAIT) on the record's own master.
    replica.child!.kill("SIGSTOP");
    let reported: string | undefined;
    const decided = record.decide("committed").then((o) => (reported = o));
    try {
      await until("decide to wait for a replica on the record's master", async () =>
        String(await cluster.onNode(owner.port, (c) => c.client("LIST"))).includes("cmd=wait") ? true : undefined,
      );
      expect(await cluster.onNode(owner.port, (c) => c.hget(record.key, "outcome"))).toBe("committed");
      expect(reported).toBeUndefined();
    } finally {
      replica.child!.kill("SIGCONT");
    }
    expect(await decided).toBe("committed");
    const onReplica = await cluster.onNode(replica.port, async (c) => {
      await c.readonly();
      return c.hget(record.key, "outcome");
    });
    expect(onReplica).toBe("committed");
    await record.delete();
  });

  it("loses the master of the prefix's slot mid-batch: its replica takes over and the batch completes, nothing lost", async () => {
    const old: RedisServer = await cluster.masterOf(keys.hosts(prefix));
    let promoted: RedisServer | undefined;
    const compressions = await batch(async (savedSoFar) => {
      expect(savedSoFar).toBeLessThan(TOTAL);
      await old.kill();
      promoted = await cluster.failedOver(keys.hosts(prefix), old);
    });
    expect(promoted).toBeDefined();
    expect(promoted).not.toBe(old);
    expect(compressions).toBeGreaterThanOrEqual(TOTAL);

    await Promise.all(procs.map((p) => p.stop()));
    expect(await checkDomains(HOSTS.map(simDir), expected)).toEqual([]);
    const store = await openStore(storeUrl, {});
    try {
      const refs = await checkRefsExport(store);
      expect(refs.violations).toEqual([]);
      // Two batches: each domain at least twice (a save run again after the failover adds one).
      const perDomain = new Map<string, number>();
      for (const ref of await listImageRefs(store)) perDomain.set(ref.domain, (perDomain.get(ref.domain) ?? 0) + 1);
      expect(perDomain.size).toBe(TOTAL);
      for (const n of perDomain.values()) expect(n).toBeGreaterThanOrEqual(2);
      expect((await checkNoPartialImages(store)).violations).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("forgets a host whose heartbeat lapsed (WATCH and MULTI on a duplicate of the cluster connection)", async () => {
    // Every service is stopped by now: each host's heartbeat lapses.
    await until("the restore host to show as down", async () =>
      (await getHost(conn, prefix, RESTORE_HOST))?.state === "down" ? true : undefined,
    );
    expect(await forgetDownHost(conn, prefix, RESTORE_HOST)).toBe(true);
    expect((await listHosts(conn, prefix)).map((h) => h.id)).toEqual(HOSTS);
  });
});

/**
 * SIGKILL of save, restore and compress workers at random instants, across
 * more than 50 jobs, each killed worker brought back as a supervisor would.
 * Afterwards, checked by the invariants: every job completed or failed with
 * a reason; every domain exists once, running, with its memory digest; every
 * image a ref points to exports whole; no partial image; GC keeps what refs
 * reach. CHAOS_SEED replays a run.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Queue } from "bullmq";
import { SimHost } from "@xenfleet/hypervisor";
import {
  bullPrefix,
  COMPRESS_QUEUE,
  createRedis,
  hostQueue,
  JOB_SPECS,
  jobData,
  type RedisClient,
} from "@xenfleet/jobs";
import { openStore } from "@xenfleet/store";
import { rmSync } from "node:fs";
import { pathToFileURL } from "node:url";
import {
  checkDomains,
  checkGcKeepsReachable,
  checkNoPartialImages,
  checkRefsExport,
  waitForJobsSettled,
  simHostWithIdleDomains,
  type ExpectedDomain,
} from "./invariants.js";
import {
  CHAOS_SEED,
  SHARED_REDIS,
  ServiceProc,
  chaosPrefix,
  deletePrefix,
  seededRandom,
  sleep,
  tempDir,
  until,
} from "./procs.js";

const MiB = 2 ** 20;
const SOURCE_HOSTS = ["h1", "h2"];
/** Restores land here: a copy keeps its image's uuid, so it must not share a host with its original. */
const TARGET_HOST = "h3";
const DOMAINS_PER_HOST = 3;
const SAVE_ROUNDS = 4;
/** Stop killing after this many kills (or when the work is done). */
const KILLS = Number(process.env.CHAOS_KILLS ?? 30);
/**
 * The waits fit inside the test's own limit, so a run that gets stuck ends
 * by saying which jobs are stuck and what their workers logged about them.
 * Settling may take a job's whole retry policy after the last kill: its
 * backoffs (10 + 20 + 40 + 80 s, DEFAULT_JOB_OPTIONS) and, for each kill
 * that held it, a lock lapse and a stalled check (30 + 15 s), so a job that
 * failed each attempt settles (as failed, with its reason) within about 300 s.
 */
const IMAGES_WAIT_MS = 150_000;
const SETTLE_WAIT_MS = 300_000;
const TEST_TIMEOUT_MS = IMAGES_WAIT_MS + SETTLE_WAIT_MS + 60_000;

describe("workers killed at random instants", () => {
  const prefix = chaosPrefix();
  const dir = tempDir();
  const storeDir = join(dir, "store");
  const storeUrl = pathToFileURL(storeDir).href;
  const simDir = (host: string) => join(dir, "hosts", host);
  const random = seededRandom(CHAOS_SEED);
  const procs: ServiceProc[] = [];
  const expected: ExpectedDomain[] = [];
  let conn: RedisClient;
  /** A run that found violations keeps its workers' logs and state for reading. */
  let keep = false;

  beforeAll(async () => {
    conn = createRedis(SHARED_REDIS, "producer", "xenfleet-chaos");
    for (const host of SOURCE_HOSTS)
      expected.push(...(await simHostWithIdleDomains(simDir(host), host, DOMAINS_PER_HOST, 4 * MiB)));
    await simHostWithIdleDomains(simDir(TARGET_HOST), TARGET_HOST, 0, 0);
    const env = {
      XENFLEET_REDIS: SHARED_REDIS,
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
    for (const host of SOURCE_HOSTS) procs.push(new ServiceProc(`save-${host}`, "save-worker", hostEnv(host), dir));
    procs.push(new ServiceProc(`restore-${TARGET_HOST}`, "restore-worker", hostEnv(TARGET_HOST), dir));
    procs.push(new ServiceProc("compress-1", "compress-worker", env, dir));
    procs.push(new ServiceProc("compress-2", "compress-worker", env, dir));
    for (const p of procs) p.start();
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await deletePrefix(conn, prefix);
    await conn.quit();
    if (process.env.CHAOS_KEEP !== "1" && !keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`kill-workers: logs and state kept in ${dir}`);
  });

  it(`loses nothing across ${SOURCE_HOSTS.length * DOMAINS_PER_HOST * SAVE_ROUNDS} saves, their compressions and restores`, {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const queues = new Map<string, Queue>();
    const q = (name: string) => {
      let queue = queues.get(name);
      if (queue === undefined)
        queues.set(name, (queue = new Queue(name, { connection: conn, prefix: bullPrefix(prefix) })));
      return queue;
    };
    const jobs: { queue: string; id: string }[] = [];
    let killing = true;
    const restarts: Promise<void>[] = [];

    /** The queue each worker takes jobs from. */
    const queueOf = (p: ServiceProc) =>
      p.service === "compress-worker"
        ? COMPRESS_QUEUE
        : hostQueue(p.service === "save-worker" ? "save" : "restore", p.env.XENFLEET_HOST!);
    let midJob = 0;
    // The killer: at random instants, SIGKILL a random worker; bring it back a moment later.
    // Every other kill waits for the victim's queue to have a job in hand, so kills land mid-job too.
    const killer = (async () => {
      let kills = 0;
      while (killing && kills < KILLS) {
        await sleep(300 + random() * 1200);
        let victim = procs[Math.floor(random() * procs.length)]!;
        if (kills % 2 === 1) {
          // A targeted kill: a worker whose queue has a job in hand, a moment into it.
          const deadline = Date.now() + 5000;
          for (;;) {
            const busy: ServiceProc[] = [];
            for (const p of procs) if (p.alive && (await q(queueOf(p)).getActiveCount()) > 0) busy.push(p);
            if (busy.length > 0) {
              victim = busy[Math.floor(random() * busy.length)]!;
              break;
            }
            if (Date.now() > deadline) break;
            await sleep(20);
          }
          await sleep(random() * 150);
        }
        if (!victim.alive) continue;
        // For the two compress workers, a job in hand on their shared queue may be the other one's.
        if ((await q(queueOf(victim)).getActiveCount()) > 0) midJob++;
        await victim.kill();
        kills++;
        const back = 100 + random() * 900;
        restarts.push(sleep(back).then(() => victim.start()));
      }
    })();

    try {
      // Saves, in rounds; each completed save queues its own compress job.
      const saved = new Map<string, string>(); // uuid -> an image id
      for (let round = 0; round < SAVE_ROUNDS; round++) {
        for (const d of expected) {
          const host = d.name.split("-")[0]!;
          const name = hostQueue("save", host);
          const job = await q(name).add(
            "save",
            jobData("save", {
              host,
              domain: { uuid: d.uuid, name: d.name },
              store: "main",
              mode: "checkpoint",
              labels: [],
              compress: true,
            }),
            JOB_SPECS.save.options,
          );
          jobs.push({ queue: name, id: job.id! });
        }
        await sleep(500 + random() * 1500);
      }
      // Restores of one image of each domain onto the target host, as each domain's first save lands.
      const restoreQueue = hostQueue("restore", TARGET_HOST);
      await until(
        "an image of every domain",
        async () => {
          for (const { queue, id } of jobs) {
            const job = await q(queue).getJob(id);
            const imageId = (job?.returnvalue as { imageId?: string } | undefined)?.imageId;
            const uuid = (job?.data as { domain?: { uuid: string } } | undefined)?.domain?.uuid;
            if (imageId !== undefined && uuid !== undefined && !saved.has(uuid)) {
              saved.set(uuid, imageId);
              const copy = expected.find((d) => d.uuid === uuid)!;
              const restore = await q(restoreQueue).add(
                "restore",
                jobData("restore", {
                  host: TARGET_HOST,
                  store: "main",
                  image: imageId,
                  name: `copy-${copy.name}`,
                  paused: false,
                }),
                JOB_SPECS.restore.options,
              );
              jobs.push({ queue: restoreQueue, id: restore.id! });
            }
          }
          return saved.size === expected.length ? true : undefined;
        },
        IMAGES_WAIT_MS,
      );

      // Let the killer finish its rounds, bring every worker back, then wait for everything to settle.
      await killer;
      killing = false;
      await Promise.all(restarts);
      for (const p of procs) if (!p.alive) p.start();

      const compressJobs = async () =>
        (
          await q(COMPRESS_QUEUE).getJobs([
            "completed",
            "failed",
            "waiting",
            "active",
            "delayed",
            "prioritized",
            "waiting-children",
          ])
        ).map((j) => ({ queue: COMPRESS_QUEUE, id: j.id! }));
      const all = async () => [...jobs, ...(await compressJobs())];
      // A job held by a killed worker comes back after its lock lapses (30 s) and a stalled check runs (15 s).
      const settled = await waitForJobsSettled(conn, prefix, all, SETTLE_WAIT_MS);
      if (settled.violations.length > 0) {
        keep = true;
        console.log(workerLinesAbout(procs, settled.violations));
      }
      const failed = settled.outcomes.filter((o) => o.state === "failed");
      const kills = procs.reduce((n, p) => n + p.kills, 0);
      console.log(
        JSON.stringify({
          chaos: "kill-workers",
          seed: CHAOS_SEED,
          jobs: settled.outcomes.length,
          completed: settled.outcomes.length - failed.length,
          failed: failed.map((f) => `${f.name}: ${f.failedReason}`),
          kills: Object.fromEntries(procs.map((p) => [p.name, p.kills])),
          totalKills: kills,
          killsWithAJobInHand: midJob,
        }),
      );
      expect(settled.violations).toEqual([]);
      expect(settled.outcomes.length).toBeGreaterThanOrEqual(50);
      expect(kills).toBeGreaterThanOrEqual(Math.min(KILLS, 10));

      // Stop the workers before inspecting state no worker may change under us.
      await Promise.all(procs.map((p) => p.stop()));

      // Domains: the originals untouched; each completed restore made exactly one running copy with the same memory.
      expect(await checkDomains(SOURCE_HOSTS.map(simDir), expected)).toEqual([]);
      const target = await SimHost.open(simDir(TARGET_HOST));
      const copies = await target.listDomains();
      const problems: string[] = [];
      for (const o of settled.outcomes.filter((o) => o.name === "restore")) {
        const job = await q(o.queue).getJob(o.id);
        const name = (job!.data as { name: string }).name;
        const original = expected.find((d) => `copy-${d.name}` === name)!;
        const found = copies.filter((c) => c.name === name);
        if (o.state === "completed" && found.length !== 1)
          problems.push(`restore ${name} completed but ${found.length} copies exist`);
        if (found.length > 1) problems.push(`${found.length} copies named ${name}`);
        for (const c of found) {
          if (c.state !== "running") problems.push(`${name} is ${c.state}`);
          if ((await target.digest(c.uuid)).digest !== original.digest) problems.push(`${name} has the wrong memory`);
        }
        if (o.state === "failed" && found.length === 1)
          problems.push(`restore ${name} failed (${o.failedReason}) although its domain exists`);
      }
      expect(problems).toEqual([]);

      // Images: every ref exports whole; no partial image; GC keeps everything reachable.
      const store = await openStore(storeUrl, {});
      try {
        const refs = await checkRefsExport(store);
        expect(refs.violations).toEqual([]);
        expect(refs.images).toBeGreaterThan(0);
        expect((await checkNoPartialImages(store)).violations).toEqual([]);
        // Every worker is stopped: import locks still in the store were left by killed workers.
        expect((await checkGcKeepsReachable(store, 3000)).violations).toEqual([]);
      } finally {
        await store.close();
      }
    } finally {
      killing = false;
      await killer.catch(() => undefined);
      await Promise.allSettled(restarts);
      await Promise.all([...queues.values()].map((queue) => queue.close()));
    }
  });
});

/** The last lines each worker logged about the jobs a violation names. */
function workerLinesAbout(procs: readonly ServiceProc[], violations: readonly string[]): string {
  const ids = violations.map((v) => /job \S+\/(\S+)/.exec(v)?.[1]).filter((id): id is string => id !== undefined);
  const lines: string[] = [];
  for (const p of procs) {
    const about = p
      .output()
      .split("\n")
      .filter((line) => ids.some((id) => line.includes(`"jobId":"${id}"`)));
    for (const line of about.slice(-10)) lines.push(`${p.name}: ${line}`);
  }
  // A worker that is down, or up but taking no jobs, leaves its queue's retries waiting: say which.
  for (const p of procs) {
    lines.push(`${p.name}: ${p.alive ? "alive" : "DOWN"} after ${p.starts} starts; its last lines:`);
    for (const line of p.output().trimEnd().split("\n").slice(-5)) lines.push(`  ${line}`);
  }
  return `stuck: ${violations.join("; ")}\n${lines.join("\n")}`;
}

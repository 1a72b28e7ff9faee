/**
 * Fleet save benchmark: does the queue cost anything?
 *
 * - A batch save of every domain (default 32 of 256 MiB on 4 sim hosts)
 *   through the fleet (Redis, one save worker process per host, the
 *   controller), against the same saves run directly: one process per host
 *   calling the same save pipeline, with the same per-host concurrency, no
 *   Redis. Each run writes a fresh store, so both do full saves of the same
 *   bytes. Target: queued / direct <= 1.1.
 * - The orchestration cost of one job: an empty job's round trip through
 *   Redis (add, a worker takes it, completes it, the producer hears back).
 * - Compression throughput with 1 and with 2 compress worker processes, each
 *   run on its own copy of the queued run's raw images: raw pack bytes
 *   rewritten per second while every worker is busy, and each worker's CPU
 *   time (all threads, and its main thread) so that a worker using more than
 *   one core, which caps the speedup on a small machine, shows. Target:
 *   2 workers >= 1.7x.
 *
 * Prints one JSON line. Options: --hosts 4 --domains 32 --memory 256M
 * --per-host 2 --redis URL --dir DIR (default a temporary directory).
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { Queue, QueueEvents } from "bullmq";
import {
  hostIds,
  serviceCommand,
  setLimits,
  startBatch,
  Supervisor,
  waitForBatch,
  type ChildSpec,
} from "@xenfleet/fleet";
import { saveDomain } from "@xenfleet/transfer";
import { SimHost } from "@xenfleet/hypervisor";
import { parseSize } from "@xenfleet/core";
import { listImages } from "@xenfleet/image";
import {
  bullPrefix,
  COMPRESS_QUEUE,
  createLogger,
  createRedis,
  JOB_SPECS,
  jobData,
  keys,
  listHosts,
  runWorker,
  type RedisClient,
} from "@xenfleet/jobs";
import { openStore } from "@xenfleet/store";
import { cpuOf, cpuSince } from "./lib/proc-cpu.js";

const { values: args } = parseArgs({
  options: {
    hosts: { type: "string", default: "4" },
    domains: { type: "string", default: "32" },
    memory: { type: "string", default: "256M" },
    "per-host": { type: "string", default: "2" },
    redis: { type: "string", default: process.env.XENFLEET_REDIS ?? "redis://127.0.0.1:6379" },
    dir: { type: "string" },
    // Internal: the direct run's per-host process.
    "direct-host": { type: "string" },
    store: { type: "string" },
    uuids: { type: "string" },
  },
});
if (args["direct-host"] !== undefined) {
  await directHost(
    args["direct-host"],
    args.dir ?? "",
    args.store ?? "",
    (args.uuids ?? "").split(","),
    Number(args["per-host"]),
  );
  process.exit(0);
}
const HOSTS = Number(args.hosts);
const DOMAINS = Number(args.domains);
const MEMORY = parseSize(args.memory);
const PER_HOST = Number(args["per-host"]);
const dir = args.dir ?? mkdtempSync(join(tmpdir(), "xenfleet-bench-"));
const prefix = `xfbench-${randomBytes(4).toString("hex")}`;
const hosts = hostIds(HOSTS);
const simDir = (host: string) => join(dir, "hosts", host);
const storeUrl = (name: string) => pathToFileURL(join(dir, name)).href;
const log = (line: string) => process.stderr.write(`fleet-save: ${line}\n`);

const redis = createRedis(args.redis, "producer", "bench-fleet-save");
let supervisor: Supervisor | undefined;

try {
  // Domains spread round robin; no page writes, so every run saves the same bytes.
  log(`creating ${DOMAINS} domains of ${MEMORY / 2 ** 20} MiB on ${HOSTS} sim hosts`);
  const placement: Array<{ host: string; uuid: string }> = [];
  for (let i = 0; i < DOMAINS; i++) {
    const host = hosts[i % HOSTS]!;
    const sim = await SimHost.open(simDir(host), {
      name: host,
      totalMemoryBytes: 2 * MEMORY * Math.ceil(DOMAINS / HOSTS),
    });
    const d = await sim.createDomain({
      name: `vm-${i + 1}`,
      type: i % 2 === 0 ? "pv" : "hvm",
      memoryBytes: MEMORY,
      seed: i + 1,
    });
    placement.push({ host, uuid: d.uuid });
  }

  // Direct: the same save pipeline, one process per host, PER_HOST saves at a
  // time on each, no Redis. Run before and after the queued run (the first
  // run of all meets colder caches); the faster of the two is the baseline.
  const direct1 = await directRun(placement, "store-direct");
  log(`direct: ${direct1.seconds.toFixed(1)} s`);

  // Queued: the fleet's processes, the batch flow, the controller's report.
  const env = {
    PATH: process.env.PATH ?? "",
    XENFLEET_REDIS: args.redis,
    XENFLEET_PREFIX: prefix,
    XENFLEET_STORE: storeUrl("store-queued"),
    XENFLEET_LOG_LEVEL: "warn",
  };
  await setLimits(redis, prefix, { hostSaves: PER_HOST, fleetSaves: 0 });
  supervisor = new Supervisor({ logDir: join(dir, "logs") });
  const child = (name: string, service: string, extra: Record<string, string> = {}): ChildSpec => ({
    name,
    ...serviceCommand(service),
    env: { ...env, ...extra },
  });
  supervisor.start([
    child("controller", "controller", { XENFLEET_HOST_SAVES: String(PER_HOST), XENFLEET_FLEET_SAVES: "0" }),
    ...hosts.map((host) =>
      child(`${host}-save`, "save-worker", {
        XENFLEET_HOST: host,
        XENFLEET_SIM_DIR: simDir(host),
        XENFLEET_CONCURRENCY: String(PER_HOST),
      }),
    ),
  ]);
  await until(async () => (await listHosts(redis, prefix)).filter((h) => h.state === "up").length === HOSTS);
  const queued = await timed(async () => {
    const batch = await startBatch(redis, prefix, {
      store: "main",
      mode: "checkpoint",
      labels: [],
      compress: false,
    });
    const done = await waitForBatch(redis, prefix, batch.jobId, { intervalMs: 100 });
    if (done.report === undefined || done.report.failed > 0)
      throw new Error(`batch failed: ${JSON.stringify(done.report ?? done.error)}`);
    return done.report.bytesTotal;
  });
  log(`queued: ${queued.seconds.toFixed(1)} s`);
  await supervisor.stop();
  supervisor = undefined;

  const direct2 = await directRun(placement, "store-direct-2");
  log(`direct again: ${direct2.seconds.toFixed(1)} s`);
  const direct = direct1.seconds <= direct2.seconds ? direct1 : direct2;

  const roundTripMs = await emptyJobRoundTrip(redis, args.redis, prefix);
  log(`empty job round trip: ${roundTripMs.toFixed(2)} ms`);

  // Compression, 1 then 2 worker processes, on the same raw images: each run
  // gets its own byte copy of the queued run's store (flushed to disk before
  // timing), so both start from raw packs and the same page cache state.
  const compressWith = async (workers: number) => {
    const name = `store-compress-${workers}`;
    cpSync(join(dir, "store-queued"), join(dir, name), { recursive: true });
    execFileSync("sync");
    const run = await compressRun(
      redis,
      prefix,
      storeUrl(name),
      workers,
      // Each run's workers have its copy as their one store, main.
      (i) => child(`compress-${workers}-${i}`, "compress-worker", { XENFLEET_STORE: storeUrl(name) }),
      join(dir, "logs"),
    );
    rmSync(join(dir, name), { recursive: true, force: true });
    log(
      `compress, ${workers} worker(s): ${run.mibPerSecond.toFixed(1)} MiB/s steady, ` +
        `CPU ${run.cpuSeconds.map((c) => c.toFixed(1)).join(" + ")} s (main threads ${run.mainThreadSeconds.map((c) => c.toFixed(1)).join(" + ")} s), load ${run.loadBefore.toFixed(1)}`,
    );
    return run;
  };
  const one = await compressWith(1);
  const two = await compressWith(2);
  const compressJson = (run: CompressRun) => ({
    mibPerSecond: round(run.mibPerSecond),
    rawBytes: run.rawBytes,
    windowSeconds: round(run.windowSeconds),
    cpuSeconds: run.cpuSeconds.map(round),
    mainThreadSeconds: run.mainThreadSeconds.map(round),
    coresPerWorker: run.cpuSeconds.map((c) => round(c / run.spanSeconds)),
    cpuSecondsPerGiB: round(run.cpuSeconds.reduce((a, b) => a + b, 0) / (run.rawBytes / 2 ** 30)),
    loadBefore: round(run.loadBefore),
  });

  process.stdout.write(
    JSON.stringify({
      bench: "fleet-save",
      hosts: HOSTS,
      domains: DOMAINS,
      domainMemoryBytes: MEMORY,
      savesPerHost: PER_HOST,
      bytesTotal: queued.value,
      directSeconds: round(direct.seconds),
      directRunsSeconds: [round(direct1.seconds), round(direct2.seconds)],
      queuedSeconds: round(queued.seconds),
      queuedOverDirect: round(queued.seconds / direct.seconds),
      queuedOverDirectTarget: 1.1,
      emptyJobRoundTripMs: round(roundTripMs),
      compressOneWorkerMiBps: round(one.mibPerSecond),
      compressTwoWorkersMiBps: round(two.mibPerSecond),
      compressSpeedup: round(two.mibPerSecond / one.mibPerSecond),
      compressSpeedupTarget: 1.7,
      compressOneWorker: compressJson(one),
      compressTwoWorkers: compressJson(two),
      cpus: availableParallelism(),
    }) + "\n",
  );
} finally {
  await supervisor?.stop();
  for (const key of await redis.keys(keys.all(prefix))) await redis.del(key);
  await redis.quit();
  if (args.dir === undefined) rmSync(dir, { recursive: true, force: true });
}

/** The direct run: a process per host saving its domains into `storeName`; the clock runs from "go". */
async function directRun(
  placement: Array<{ host: string; uuid: string }>,
  storeName: string,
): Promise<{ value: number; seconds: number }> {
  const children = hosts.map((host) => {
    const uuids = placement.filter((p) => p.host === host).map((p) => p.uuid);
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        process.argv[1] ?? "",
        "--direct-host",
        host,
        "--dir",
        dir,
        "--store",
        storeUrl(storeName),
        "--uuids",
        uuids.join(","),
        "--per-host",
        String(PER_HOST),
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += String(d)));
    const ready = new Promise<void>((resolve) => child.stdout.on("data", () => out.startsWith("ready") && resolve()));
    const done = new Promise<number>((resolve, reject) =>
      child.once("exit", (code) =>
        code === 0
          ? resolve(Number(out.replace("ready", "").trim()))
          : reject(new Error(`direct run on ${host} exited with ${code}`)),
      ),
    );
    return { child, ready, done };
  });
  await Promise.all(children.map((c) => c.ready));
  return timed(async () => {
    for (const c of children) c.child.stdin.end("go\n");
    return (await Promise.all(children.map((c) => c.done))).reduce((a, b) => a + b, 0);
  });
}

/** One host's share of the direct run: save its domains, print the bytes saved. */
async function directHost(
  host: string,
  benchDir: string,
  store: string,
  uuids: string[],
  perHost: number,
): Promise<void> {
  const sim = await SimHost.open(join(benchDir, "hosts", host));
  const target = await openStore(store, {});
  process.stdout.write("ready\n");
  for await (const _ of process.stdin) break;
  let bytesTotal = 0;
  const todo = [...uuids];
  await Promise.all(
    Array.from({ length: perHost }, async () => {
      for (let uuid = todo.shift(); uuid !== undefined; uuid = todo.shift()) {
        bytesTotal += (await saveDomain({ hypervisor: sim, store: target, domain: uuid, mode: "checkpoint" }))
          .bytesTotal;
      }
    }),
  );
  await target.close();
  process.stdout.write(`${bytesTotal}\n`);
}

/** Mean round trip of an empty job through Redis, with a worker in this process. */
async function emptyJobRoundTrip(producer: RedisClient, url: string, benchPrefix: string): Promise<number> {
  const name = "bench-empty";
  const connection = createRedis(url, "worker", "bench-worker");
  const eventsConnection = createRedis(url, "worker", "bench-events");
  const events = new QueueEvents(name, { connection: eventsConnection, prefix: bullPrefix(benchPrefix) });
  const queue = new Queue(name, { connection: producer, prefix: bullPrefix(benchPrefix) });
  const result = { imageId: "0".repeat(64), bytesTotal: 0, bytesNew: 0, pausedMs: 0, seconds: 0 };
  const worker = runWorker({
    queue: name,
    connection,
    prefix: benchPrefix,
    logger: createLogger({ service: "bench", level: "silent" }),
    handlers: { save: async () => result },
  });
  const payload = jobData("save", {
    host: "h1",
    domain: { uuid: "00000000-0000-0000-0000-000000000001", name: "vm" },
    store: "main",
    mode: "checkpoint",
    labels: [],
    compress: false,
  });
  try {
    await events.waitUntilReady();
    await worker.worker.waitUntilReady();
    const n = 200;
    for (let i = 0; i < 20; i++) await (await queue.add("save", payload)).waitUntilFinished(events);
    const run = await timed(async () => {
      for (let i = 0; i < n; i++) await (await queue.add("save", payload)).waitUntilFinished(events);
      return n;
    });
    return (run.seconds * 1000) / n;
  } finally {
    await worker.stop();
    await events.close();
    await queue.close();
    await Promise.all([connection.quit(), eventsConnection.quit()]);
  }
}

interface CompressRun {
  /** Raw pack bytes rewritten per second while every worker had work. */
  mibPerSecond: number;
  rawBytes: number;
  windowSeconds: number;
  /** From the first job's start to the last one's end. */
  spanSeconds: number;
  /** CPU time of each worker process over the run: all its threads, and its main thread alone. */
  cpuSeconds: number[];
  mainThreadSeconds: number[];
  loadBefore: number;
}

/**
 * One compress job per raw image in `store`, run by `workers` compress worker
 * processes. The clock is the jobs' own: from when the last worker took its
 * first job to when the first worker ran out of jobs, the span in which all
 * of them were busy (start-up, queue latency and the last job's tail are
 * outside it); each job's bytes count in proportion to its time inside it.
 */
async function compressRun(
  producer: RedisClient,
  benchPrefix: string,
  store: string,
  workers: number,
  spec: (i: number) => ChildSpec,
  logDir: string,
): Promise<CompressRun> {
  const target = await openStore(store, {});
  const images = (await listImages(target)).map((i) => i.id as string);
  await target.close();
  if (images.length < 2 * workers)
    throw new Error(`${images.length} images are too few to keep ${workers} workers busy`);
  const queue = new Queue(COMPRESS_QUEUE, { connection: producer, prefix: bullPrefix(benchPrefix) });
  const sup = new Supervisor({ logDir });
  try {
    await queue.obliterate({ force: true });
    // Jobs first, held back until every worker is connected.
    await queue.pause();
    for (const image of images) {
      await queue.add(
        "compress",
        jobData("compress", { store: "main", image, algorithm: "zstd", level: 3 }),
        JOB_SPECS.compress.options,
      );
    }
    sup.start(Array.from({ length: workers }, (_, i) => spec(i + 1)));
    await until(async () => (await queue.getWorkersCount()) === workers);
    const pids = Object.values(sup.pids()).filter((p): p is number => p !== undefined);
    const cpuBefore = pids.map(cpuOf);
    const loadBefore = loadavg()[0] ?? 0;
    await queue.resume();
    await until(async () => {
      const c = await queue.getJobCounts("completed", "failed");
      if ((c.failed ?? 0) > 0) throw new Error("a compress job failed");
      return c.completed === images.length;
    }, 100);
    const cpuAfter = pids.map(cpuOf);
    const jobs = (await queue.getJobs(["completed"])).map((j) => ({
      start: j.processedOn ?? 0,
      end: j.finishedOn ?? 0,
      bytes: (j.returnvalue as { bytesIn: number }).bytesIn,
    }));
    const starts = jobs.map((j) => j.start).sort((a, b) => a - b);
    const ends = jobs.map((j) => j.end).sort((a, b) => b - a);
    const from = starts[workers - 1] ?? 0;
    const to = ends[workers - 1] ?? 0;
    let inWindow = 0;
    for (const j of jobs)
      inWindow += (j.bytes * Math.max(0, Math.min(j.end, to) - Math.max(j.start, from))) / Math.max(1, j.end - j.start);
    const windowSeconds = (to - from) / 1000;
    return {
      mibPerSecond: inWindow / 2 ** 20 / windowSeconds,
      rawBytes: jobs.reduce((sum, j) => sum + j.bytes, 0),
      windowSeconds,
      spanSeconds: ((ends[0] ?? 0) - (starts[0] ?? 0)) / 1000,
      cpuSeconds: cpuAfter.map((c, i) => {
        const used = cpuSince(cpuBefore[i]!, c);
        return used.user + used.system;
      }),
      mainThreadSeconds: cpuAfter.map((c, i) => cpuSince(cpuBefore[i]!, c).main),
      loadBefore,
    };
  } finally {
    await sup.stop();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}

/** CPU seconds a process has used, all threads and its main thread (Linux /proc). */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - started) / 1000 };
}

async function until(check: () => Promise<boolean>, intervalMs = 200, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

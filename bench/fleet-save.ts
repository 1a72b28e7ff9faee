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
 *   compressing one of the two stores' raw images. Target: 2 workers >= 1.7x.
 *
 * Prints one JSON line. Options: --hosts 4 --domains 32 --memory 256M
 * --per-host 2 --redis URL --dir DIR (default a temporary directory).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { Queue, QueueEvents } from "bullmq";
import {
  hostIds,
  saveDomain,
  serviceCommand,
  setLimits,
  startBatch,
  Supervisor,
  waitForBatch,
  type ChildSpec,
} from "@xenfleet/fleet";
import { parseSize, SimHost } from "@xenfleet/hypervisor";
import { bullPrefix, COMPRESS_QUEUE, createLogger, createRedis, JOB_SPECS, jobData, keys, listHosts, runWorker } from "@xenfleet/jobs";
import { openStore } from "@xenfleet/store";
import type { Redis } from "ioredis";

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
  await directHost(args["direct-host"], args.dir ?? "", args.store ?? "", (args.uuids ?? "").split(","), Number(args["per-host"]));
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
    const sim = await SimHost.open(simDir(host), { name: host, totalMemoryBytes: 2 * MEMORY * Math.ceil(DOMAINS / HOSTS) });
    const d = await sim.createDomain({ name: `vm-${i + 1}`, type: i % 2 === 0 ? "pv" : "hvm", memoryBytes: MEMORY, seed: i + 1 });
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
  const child = (name: string, service: string, extra: Record<string, string> = {}): ChildSpec => ({ name, ...serviceCommand(service), env: { ...env, ...extra } });
  supervisor.start([
    child("controller", "controller", { XENFLEET_HOST_SAVES: String(PER_HOST), XENFLEET_FLEET_SAVES: "0" }),
    ...hosts.map((host) => child(`${host}-save`, "save-worker", { XENFLEET_HOST: host, XENFLEET_SIM_DIR: simDir(host), XENFLEET_CONCURRENCY: String(PER_HOST) })),
  ]);
  await until(async () => (await listHosts(redis, prefix)).filter((h) => h.state === "up").length === HOSTS);
  const queued = await timed(async () => {
    const batch = await startBatch(redis, prefix, { store: env.XENFLEET_STORE, mode: "checkpoint", labels: [], compress: false });
    const done = await waitForBatch(redis, prefix, batch.jobId, { intervalMs: 100 });
    if (done.report === undefined || done.report.failed > 0) throw new Error(`batch failed: ${JSON.stringify(done.report ?? done.error)}`);
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

  // Compression: each store holds the same raw images; one worker on one, two on the other.
  const imagesOf = async (name: string) => {
    const { listImages } = await import("@xenfleet/image");
    const store = await openStore(storeUrl(name), {});
    try {
      return (await listImages(store)).map((i) => i.id as string);
    } finally {
      await store.close();
    }
  };
  const compressWith = async (workers: number, storeName: string) => {
    const images = await imagesOf(storeName);
    const queue = new Queue(COMPRESS_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
    const sup = new Supervisor({ logDir: join(dir, "logs") });
    supervisor = sup;
    sup.start(Array.from({ length: workers }, (_, i) => child(`compress-${workers}-${i + 1}`, "compress-worker")));
    try {
      await queue.obliterate({ force: true });
      // Jobs first (paused), then release them together: worker start-up is not timed.
      await queue.pause();
      for (const image of images) {
        await queue.add("compress", jobData("compress", { store: storeUrl(storeName), image, algorithm: "zstd", level: 3 }), JOB_SPECS.compress.options);
      }
      await new Promise((r) => setTimeout(r, 3000));
      const run = await timed(async () => {
        await queue.resume();
        await until(async () => {
          const c = await queue.getJobCounts("completed", "failed");
          if ((c.failed ?? 0) > 0) throw new Error("a compress job failed");
          return c.completed === images.length;
        }, 50);
        const jobs = await queue.getJobs(["completed"]);
        return jobs.reduce((sum, j) => sum + (j.returnvalue as { bytesIn: number }).bytesIn, 0);
      });
      return { mbPerSecond: run.value / 2 ** 20 / run.seconds, seconds: run.seconds, bytes: run.value };
    } finally {
      await sup.stop();
      supervisor = undefined;
      await queue.close();
    }
  };
  const one = await compressWith(1, "store-direct");
  log(`compress, 1 worker: ${one.mbPerSecond.toFixed(1)} MiB/s`);
  const two = await compressWith(2, "store-queued");
  log(`compress, 2 workers: ${two.mbPerSecond.toFixed(1)} MiB/s`);

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
      compressOneWorkerMiBps: round(one.mbPerSecond),
      compressTwoWorkersMiBps: round(two.mbPerSecond),
      compressSpeedup: round(two.mbPerSecond / one.mbPerSecond),
      compressSpeedupTarget: 1.7,
    }) + "\n",
  );
} finally {
  await supervisor?.stop();
  for (const key of await redis.keys(keys.all(prefix))) await redis.del(key);
  await redis.quit();
  if (args.dir === undefined) rmSync(dir, { recursive: true, force: true });
}

/** The direct run: a process per host saving its domains into `storeName`; the clock runs from "go". */
async function directRun(placement: Array<{ host: string; uuid: string }>, storeName: string): Promise<{ value: number; seconds: number }> {
  const children = hosts.map((host) => {
    const uuids = placement.filter((p) => p.host === host).map((p) => p.uuid);
    const child = spawn(
      process.execPath,
      [...process.execArgv, process.argv[1] ?? "", "--direct-host", host, "--dir", dir, "--store", storeUrl(storeName), "--uuids", uuids.join(","), "--per-host", String(PER_HOST)],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += String(d)));
    const ready = new Promise<void>((resolve) => child.stdout.on("data", () => out.startsWith("ready") && resolve()));
    const done = new Promise<number>((resolve, reject) =>
      child.once("exit", (code) => (code === 0 ? resolve(Number(out.replace("ready", "").trim())) : reject(new Error(`direct run on ${host} exited with ${code}`)))),
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
async function directHost(host: string, benchDir: string, store: string, uuids: string[], perHost: number): Promise<void> {
  const sim = await SimHost.open(join(benchDir, "hosts", host));
  const target = await openStore(store, {});
  process.stdout.write("ready\n");
  for await (const _ of process.stdin) break;
  let bytesTotal = 0;
  const todo = [...uuids];
  await Promise.all(
    Array.from({ length: perHost }, async () => {
      for (let uuid = todo.shift(); uuid !== undefined; uuid = todo.shift()) {
        bytesTotal += (await saveDomain({ hypervisor: sim, store: target, domain: uuid, mode: "checkpoint" })).bytesTotal;
      }
    }),
  );
  await target.close();
  process.stdout.write(`${bytesTotal}\n`);
}

/** Mean round trip of an empty job through Redis, with a worker in this process. */
async function emptyJobRoundTrip(producer: Redis, url: string, benchPrefix: string): Promise<number> {
  const name = "bench-empty";
  const connection = createRedis(url, "worker", "bench-worker");
  const eventsConnection = createRedis(url, "worker", "bench-events");
  const events = new QueueEvents(name, { connection: eventsConnection, prefix: bullPrefix(benchPrefix) });
  const queue = new Queue(name, { connection: producer, prefix: bullPrefix(benchPrefix) });
  const result = { imageId: "0".repeat(64), bytesTotal: 0, bytesNew: 0, pausedMs: 0, seconds: 0 };
  const worker = runWorker({ queue: name, connection, prefix: benchPrefix, logger: createLogger({ service: "bench", level: "silent" }), handlers: { save: async () => result } });
  const payload = jobData("save", { host: "h1", domain: { uuid: "00000000-0000-0000-0000-000000000001", name: "vm" }, store: "file:///x", mode: "checkpoint", labels: [], compress: false });
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

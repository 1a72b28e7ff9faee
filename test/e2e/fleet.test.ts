/**
 * The fleet end to end: four sim hosts, each running its save and restore
 * workers as separate processes, one compress worker and the controller,
 * against the real Redis. Batches, an incremental batch, a restore checked
 * with the digest oracle, the nightly schedule, a malformed job, a host
 * whose heartbeat lapses.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import {
  batchProgress,
  listBatches,
  removeSchedule,
  scheduleNightly,
  startBatch,
  waitForBatch,
  type BatchReport,
} from "@xenfleet/fleet";
import {
  COMPRESS_QUEUE,
  CONTROLLER_QUEUE,
  getHost,
  hostQueue,
  JOB_SPECS,
  jobData,
  listHosts,
  type RedisClient,
} from "@xenfleet/jobs";
import {
  deletePrefix,
  fileUrl,
  nodeArgs,
  queue,
  redis,
  REDIS_URL,
  start,
  stop,
  tempDir,
  testPrefix,
  until,
  type Proc,
} from "./helpers.js";

const MiB = 2 ** 20;
const HOSTS = ["host-1", "host-2", "host-3", "host-4"];

describe("the fleet, as separate processes", () => {
  const prefix = testPrefix();
  const dir = tempDir();
  const storeUrl = fileUrl(join(dir, "store"));
  // What jobs name: the workers' one store (XENFLEET_STORE).
  const store = "main";
  const simDir = (host: string) => join(dir, "hosts", host);
  const procs = new Map<string, Proc>();
  // host-1's save worker serves Prometheus metrics (a random high port: the machine is shared).
  const metricsPort = 20_000 + Math.floor(Math.random() * 40_000);
  let conn: RedisClient;
  /** Domain uuids by host: [writing its memory, idle]. */
  const domains = new Map<string, [string, string]>();

  beforeAll(async () => {
    conn = redis();
    for (const host of HOSTS) {
      // host-4 has room for its own two domains and little more.
      const sim = await SimHost.open(simDir(host), {
        name: host,
        totalMemoryBytes: host === "host-4" ? 40 * MiB : 512 * MiB,
      });
      const busy = await sim.createDomain({
        name: `${host}-busy`,
        type: "pv",
        memoryBytes: 16 * MiB,
        dirtyPagesPerSec: 100,
      });
      const idle = await sim.createDomain({ name: `${host}-idle`, type: "hvm", memoryBytes: 16 * MiB });
      domains.set(host, [busy.uuid, idle.uuid]);
    }
    const env = {
      XENFLEET_REDIS: REDIS_URL,
      XENFLEET_PREFIX: prefix,
      XENFLEET_STORE: storeUrl,
      XENFLEET_LOG_LEVEL: "info",
    };
    const logs = dir;
    procs.set("controller", start("controller", nodeArgs("controller"), env, logs));
    procs.set("compress", start("compress", nodeArgs("compress-worker"), env, logs));
    for (const host of HOSTS) {
      const hostEnv = {
        ...env,
        XENFLEET_HOST: host,
        XENFLEET_SIM_DIR: simDir(host),
        XENFLEET_HEARTBEAT_MS: "1000",
        XENFLEET_HOST_ADDRESS: "127.0.0.1",
        XENFLEET_METRICS_PORT: host === "host-1" ? String(metricsPort) : "0",
      };
      procs.set(`${host}-save`, start(`${host}-save`, nodeArgs("save-worker"), hostEnv, logs));
      // Only the save worker serves metrics on the chosen port: two processes cannot both listen on it.
      procs.set(
        `${host}-restore`,
        start(`${host}-restore`, nodeArgs("restore-worker"), { ...hostEnv, XENFLEET_METRICS_PORT: "0" }, logs),
      );
    }
    try {
      await until(
        "every host to report up",
        async () => {
          const hosts = await listHosts(conn, prefix);
          return hosts.filter((h) => h.state === "up").length === HOSTS.length ? true : undefined;
        },
        90_000,
      );
    } catch (error) {
      // Say why: which hosts are not up, and what their workers printed.
      const states = (await listHosts(conn, prefix)).map((h) => `${h.id}: ${h.state}`).join(", ");
      const logs = [...procs.values()].map((p) => `--- ${p.name}\n${p.output().slice(-2000)}`).join("\n");
      throw new Error(`${(error as Error).message} (hosts: ${states || "none registered"})\n${logs}`);
    }
  });

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => stop(p)));
    await deletePrefix(conn, prefix);
    await conn.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  async function batch(): Promise<BatchReport> {
    const started = await startBatch(conn, prefix, { store, mode: "checkpoint", labels: ["nightly"], compress: true });
    expect(started.skipped).toEqual([]);
    const done = await waitForBatch(conn, prefix, started.jobId);
    expect(done.error).toBeUndefined();
    return done.report!;
  }

  async function runJob(queueName: string, name: string, data: unknown) {
    const q = queue(conn, prefix, queueName);
    try {
      const job = await q.add(name, data, { ...JOB_SPECS.save.options, attempts: 1 });
      await until(`${name} job to finish`, async () => {
        const state = await q.getJobState(job.id!);
        return state === "completed" || state === "failed" ? state : undefined;
      });
      return (await q.getJob(job.id!))!;
    } finally {
      await q.close();
    }
  }

  it("saves every domain of every host in one batch, then a second batch stores only the changed pages", async () => {
    const first = await batch();
    expect(first).toMatchObject({ saved: 8, failed: 0, failures: [] });
    expect(first.bytesTotal).toBeGreaterThan(8 * 16 * MiB);
    expect(first.bytesNew).toBeGreaterThan(0);

    // The busy domains write pages while time passes; the idle ones do not.
    await new Promise((r) => setTimeout(r, 1500));
    const second = await batch();
    expect(second).toMatchObject({ saved: 8, failed: 0 });
    expect(second.bytesTotal).toBeGreaterThan(8 * 16 * MiB);
    expect(second.bytesNew).toBeLessThan(second.bytesTotal / 20);
    expect(second.bytesNew).toBeLessThan(first.bytesNew / 10);

    // Every new image is queued for compression, which the compress worker does off the critical path.
    const compress = queue(conn, prefix, COMPRESS_QUEUE);
    try {
      const counts = await until("compression of all 16 images", async () => {
        const c = await compress.getJobCounts("completed", "failed");
        return (c.completed ?? 0) + (c.failed ?? 0) >= 16 ? c : undefined;
      });
      expect(counts).toMatchObject({ completed: 16, failed: 0 });
    } finally {
      await compress.close();
    }

    // host-1's save worker counted its saves (two domains, two batches), and the bytes, for Prometheus.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/xenfleet_jobs_total\{[^}]*queue="save@host-1"[^}]*state="completed"[^}]*\} 4\n/);
    const saved = /xenfleet_bytes_saved_total\{[^}]*\} (\d+)/.exec(metrics);
    expect(Number(saved?.[1])).toBeGreaterThan(4 * 16 * MiB);
    expect(metrics).toMatch(/xenfleet_job_duration_seconds_count\{[^}]*queue="save@host-1"/);
  });

  it("restores an image onto another host, where its memory digest equals the original's", async () => {
    const [, idle] = domains.get("host-1")!;
    const saved = await runJob(
      hostQueue("save", "host-1"),
      "save",
      jobData("save", {
        host: "host-1",
        domain: { uuid: idle, name: "host-1-idle" },
        store,
        mode: "checkpoint",
        labels: [],
        compress: false,
      }),
    );
    expect(saved.failedReason).toBeUndefined();
    const imageId = (saved.returnvalue as { imageId: string }).imageId;

    const restored = await runJob(
      hostQueue("restore", "host-3"),
      "restore",
      jobData("restore", { host: "host-3", store, image: imageId, paused: true }),
    );
    expect(restored.failedReason).toBeUndefined();
    expect(restored.returnvalue).toMatchObject({ domain: { uuid: idle, name: "host-1-idle" } });

    const original = await (await SimHost.open(simDir("host-1"))).digest(idle);
    const copy = await (await SimHost.open(simDir("host-3"))).digest(idle);
    expect(copy.digest).toBe(original.digest);

    // The host agent publishes the restored domain with host-3's next heartbeat.
    await until("host-3 to list the restored domain", async () =>
      (await getHost(conn, prefix, "host-3"))?.info?.domains.some((d) => d.uuid === idle) ? true : undefined,
    );
    // A cold migration would now destroy the original; here the copy goes, so
    // each uuid runs on one host again for the tests that follow.
    await (await SimHost.open(simDir("host-3"))).destroy(idle);
    // ... and wait until host-3's heartbeat says so, or a batch started next
    // would still see the copy there and try to save it.
    await until("host-3 to stop listing the copy", async () =>
      (await getHost(conn, prefix, "host-3"))?.info?.domains.some((d) => d.uuid === idle) ? undefined : true,
    );
  });

  it("refuses a restore onto a host without room, once, with the reason", async () => {
    const [busy] = domains.get("host-2")!;
    const saved = await runJob(
      hostQueue("save", "host-2"),
      "save",
      jobData("save", {
        host: "host-2",
        domain: { uuid: busy, name: "host-2-busy" },
        store,
        mode: "checkpoint",
        labels: [],
        compress: false,
      }),
    );
    const imageId = (saved.returnvalue as { imageId: string }).imageId;
    const q = queue(conn, prefix, hostQueue("restore", "host-4"));
    try {
      const job = await q.add(
        "restore",
        jobData("restore", { host: "host-4", store, image: imageId, name: "copy", paused: true }),
        JOB_SPECS.restore.options,
      );
      await until("the restore to fail", async () => ((await q.getJobState(job.id!)) === "failed" ? true : undefined));
      const failed = (await q.getJob(job.id!))!;
      expect(failed.failedReason).toMatch(/XF_HOST_NO_ROOM.*host-4 has no room/);
      expect(failed.attemptsMade).toBe(1);
    } finally {
      await q.close();
    }
  });

  it("fails a malformed job clearly, and the worker goes on serving", async () => {
    const q = queue(conn, prefix, hostQueue("save", "host-2"));
    try {
      const junk = await q.add("save", { v: 1, host: "host-2", domain: "everything" }, { attempts: 5 });
      const future = await q.add("save", { v: 9, host: "host-2" }, { attempts: 5 });
      await until("both to fail", async () => {
        const states = await Promise.all([q.getJobState(junk.id!), q.getJobState(future.id!)]);
        return states.every((s) => s === "failed") ? true : undefined;
      });
      const [a, b] = await Promise.all([q.getJob(junk.id!), q.getJob(future.id!)]);
      expect(a!.failedReason).toMatch(/invalid save job \(v1\): payload does not match the schema/);
      expect(a!.attemptsMade).toBe(1);
      expect(b!.failedReason).toMatch(/newer than this worker understands/);
    } finally {
      await q.close();
    }
    const [, idle] = domains.get("host-2")!;
    const ok = await runJob(
      hostQueue("save", "host-2"),
      "save",
      jobData("save", {
        host: "host-2",
        domain: { uuid: idle, name: "host-2-idle" },
        store,
        mode: "checkpoint",
        labels: [],
        compress: false,
      }),
    );
    expect(ok.failedReason).toBeUndefined();
    expect(ok.returnvalue).toMatchObject({ v: 2, imageId: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it("runs the nightly batch from its cron schedule", async () => {
    const before = new Set((await listBatches(conn, prefix, 50)).map((b) => b.jobId));
    await scheduleNightly(conn, prefix, { cron: "* * * * * *" }, { store, mode: "checkpoint" });
    let scheduled: Awaited<ReturnType<typeof listBatches>>[number];
    try {
      scheduled = await until("a scheduled batch to start", async () =>
        (await listBatches(conn, prefix, 50)).find((b) => !before.has(b.jobId)),
      );
    } finally {
      // One run is enough; the next ones would only save the same domains again.
      await removeSchedule(conn, prefix, "nightly");
    }
    const done = await waitForBatch(conn, prefix, scheduled.jobId);
    expect(done.report).toMatchObject({ saved: 8, failed: 0 });
    expect(done.report!.batchId).toMatch(/^nightly-\d+$/);
    expect(done.total).toBe(8);
  });

  it("runs retention and GC on the controller", async () => {
    // Every domain has several images from today: one per day is kept.
    const retention = await runJob(
      CONTROLLER_QUEUE,
      "retention",
      jobData("retention", { store, keep: { nightly: 1, weekly: 0 }, dryRun: false }),
    );
    expect(retention.failedReason).toBeUndefined();
    const { kept, dropped } = retention.returnvalue as { kept: number; dropped: number };
    expect(kept).toBe(8);
    expect(dropped).toBeGreaterThan(8);
    // Everything is younger than the grace period: GC deletes nothing yet.
    const gc = await runJob(CONTROLLER_QUEUE, "gc", jobData("gc", { store, graceSeconds: 3600, dryRun: false }));
    expect(gc.failedReason).toBeUndefined();
    expect(gc.returnvalue).toMatchObject({ objectsDeleted: 0, bytesFreed: 0 });
  });

  it("shows a host whose heartbeat lapsed as down, gives it no new work, and keeps its queued jobs", async () => {
    const victim = procs.get("host-4-save")!;
    victim.child.kill("SIGKILL");
    await victim.exited;
    await until("host-4 to show as down", async () =>
      (await getHost(conn, prefix, "host-4"))?.state === "down" ? true : undefined,
    );
    expect((await listHosts(conn, prefix)).filter((h) => h.state === "up").map((h) => h.id)).toEqual([
      "host-1",
      "host-2",
      "host-3",
    ]);

    // A batch leaves its domains out, saying why.
    const started = await startBatch(conn, prefix, { store, mode: "checkpoint", labels: [], compress: false });
    expect(started.total).toBe(6);
    expect(started.skipped).toHaveLength(2);
    for (const s of started.skipped)
      expect(s).toMatchObject({ host: "host-4", reason: expect.stringMatching(/host-4 is down/) });
    const done = await waitForBatch(conn, prefix, started.jobId);
    expect(done.report).toMatchObject({ saved: 6, failed: 0 });

    // Work already queued for it waits for it to come back; it does not vanish.
    const [busy] = domains.get("host-4")!;
    const q = queue(conn, prefix, hostQueue("save", "host-4"));
    try {
      const job = await q.add(
        "save",
        jobData("save", {
          host: "host-4",
          domain: { uuid: busy, name: "host-4-busy" },
          store,
          mode: "checkpoint",
          labels: [],
          compress: false,
        }),
      );
      await new Promise((r) => setTimeout(r, 1000));
      expect(await q.getJobState(job.id!)).toBe("waiting");
    } finally {
      await q.close();
    }
    expect(await batchProgress(conn, prefix, started.jobId)).toMatchObject({ state: "completed" });
  });
});

/**
 * A fleet over time, through the CLI: hosts that are drained and returned
 * to service, a host that goes down and is forgotten, a scheduled batch's
 * own time, labels and protection through retention, an unreadable parent. Two sim hosts with their save and restore workers and the
 * controller, as separate processes, against the real Redis.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { listBatches, removeSchedule, waitForBatch } from "@xenfleet/fleet";
import { getHost, isDraining, listHosts, type RedisClient } from "@xenfleet/jobs";
import {
  cli,
  deletePrefix,
  fileUrl,
  nodeArgs,
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
const HOSTS = ["host-1", "host-2"];

describe("a fleet over time: host lifecycle, scheduled batches", () => {
  const prefix = testPrefix();
  const dir = tempDir();
  const storeUrl = fileUrl(join(dir, "store"));
  const fleet = ["--redis", REDIS_URL, "--prefix", prefix];
  const store = ["--store", storeUrl];
  // The CLI knows the fleet's store as the workers do (XENFLEET_STORE, so "main"): fleet commands given
  // its location send its name.
  const fleetCli = (args: string[]) => cli(args, { XENFLEET_STORE: storeUrl });
  const simDir = (host: string) => join(dir, "hosts", host);
  const procs = new Map<string, Proc>();
  let conn: RedisClient;

  /** Runs the CLI with --json; its one document. */
  async function json(args: string[], code = 0): Promise<Record<string, unknown>> {
    const r = await fleetCli([...args, "--json"]);
    expect(r.code, `${args.join(" ")}: ${r.stdout}\n${r.stderr}`).toBe(code);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  beforeAll(async () => {
    conn = redis();
    for (const host of HOSTS) {
      const sim = await SimHost.open(simDir(host), { name: host, totalMemoryBytes: 256 * MiB });
      for (const n of [1, 2])
        await sim.createDomain({ name: `${host}-vm-${n}`, type: "pv", memoryBytes: 8 * MiB, dirtyPagesPerSec: 20 });
    }
    const env = { XENFLEET_REDIS: REDIS_URL, XENFLEET_PREFIX: prefix, XENFLEET_STORE: storeUrl };
    procs.set("controller", start("controller", nodeArgs("controller"), env, dir));
    for (const host of HOSTS) {
      const hostEnv = {
        ...env,
        XENFLEET_HOST: host,
        XENFLEET_SIM_DIR: simDir(host),
        XENFLEET_HEARTBEAT_MS: "500",
        XENFLEET_HOST_ADDRESS: "127.0.0.1",
      };
      for (const worker of ["save-worker", "restore-worker"] as const)
        procs.set(`${host}-${worker}`, start(`${host}-${worker}`, nodeArgs(worker), hostEnv, dir));
    }
    await until(
      "both hosts to report up",
      async () => ((await listHosts(conn, prefix)).filter((h) => h.state === "up").length === 2 ? true : undefined),
      90_000,
    );
  });

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => stop(p)));
    await removeSchedule(conn, prefix, "nightly").catch(() => false);
    await deletePrefix(conn, prefix);
    await conn.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it("drains a host with hosts drain, shows it apart and returns it to service with hosts undrain", async () => {
    // What an evacuation, and the dashboard's Drain button, mark first.
    expect(await json(["hosts", "drain", "host-1", ...fleet])).toEqual({
      ok: true,
      host: "host-1",
      state: "draining",
      wasDraining: false,
    });
    expect(await isDraining(conn, prefix, "host-1")).toBe(true);
    expect(await json(["hosts", "drain", "host-1", ...fleet])).toMatchObject({ wasDraining: true });
    const listed = (await json(["hosts", ...fleet])).hosts as Array<{ host: string; state: string }>;
    expect(listed.map((h) => [h.host, h.state])).toEqual([
      ["host-1", "draining"],
      ["host-2", "up"],
    ]);
    expect((await json(["status", ...fleet])).hostCounts).toEqual({ up: 1, draining: 1, down: 0 });
    const text = await fleetCli(["status", ...fleet]);
    expect(text.stdout).toMatch(/^hosts: 1 up, 1 draining, 0 down/m);

    expect(await json(["hosts", "undrain", "host-1", ...fleet])).toEqual({
      ok: true,
      host: "host-1",
      state: "up",
      wasDraining: true,
    });
    expect((await getHost(conn, prefix, "host-1"))?.state).toBe("up");
    // Once more is harmless, and says so.
    expect(await json(["hosts", "undrain", "host-1", ...fleet])).toMatchObject({ wasDraining: false });
    const unknown = await json(["hosts", "undrain", "host-9", ...fleet], 2);
    expect(String((unknown.error as { message: string }).message)).toMatch(/no host host-9 is registered/);
  });

  it("runs a scheduled batch with its own id and time, not its job's creation", async () => {
    const before = new Set((await listBatches(conn, prefix, 50)).map((b) => b.jobId));
    const scheduledAt = Date.now();
    // The first run is due one interval from now; its job is created now.
    await json(["schedule", "nightly", "--every", "4s", "--label", "nightly", ...fleet, ...store]);
    let jobId: string;
    try {
      jobId = (
        await until("the scheduled batch to start", async () =>
          (await listBatches(conn, prefix, 50)).find((b) => !before.has(b.jobId)),
        )
      ).jobId;
    } finally {
      await json(["schedule", "remove", "nightly", ...fleet]);
    }
    const done = await waitForBatch(conn, prefix, jobId);
    const finished = Date.now();
    expect(done.report).toMatchObject({ saved: 4, failed: 0 });
    // The run began when it was due, and its id says so; its time counts from there.
    const startedAt = Number(/^nightly-(\d+)$/.exec(done.report!.batchId)?.[1]);
    expect(startedAt).toBeGreaterThanOrEqual(scheduledAt + 4000);
    expect(done.createdAt).toBe(startedAt);
    expect(done.report!.seconds).toBeLessThanOrEqual((finished - startedAt) / 1000);
  });

  it("keeps a labelled save through prune by label, and a protected image through any prune", async () => {
    const save = ["save", "host-1", "host-1-vm-1", "--wait", "--no-compress", ...fleet, ...store];
    const manual = String((await json([...save, "--label", "pre-upgrade"])).imageId);
    for (let night = 0; night < 2; night++)
      await json([
        "batch-save",
        "--hosts",
        "host-1",
        "--label",
        "nightly",
        "--wait",
        "--no-compress",
        ...fleet,
        ...store,
      ]);
    type Listed = { imageId: string; labels: string[]; protected: boolean; domain: string };
    const ls = async (...filters: string[]) => (await json(["image", "ls", ...filters, ...store])).images as Listed[];
    expect((await ls("--label", "pre-upgrade")).map((i) => [i.imageId, i.labels])).toEqual([[manual, ["pre-upgrade"]]]);

    // Per label: one nightly of each domain stays, and the manual save is not counted or touched.
    const byLabel = await json(["prune", "--keep-last", "1", "--label", "nightly", ...store]);
    const removed = (byLabel.removed as Array<{ imageId: string }>).map((r) => r.imageId);
    expect(removed).not.toContain(manual);
    const left = await ls("--domain", "host-1-vm-1");
    expect(left.filter((i) => i.labels.includes("nightly"))).toHaveLength(1);
    expect(left.map((i) => i.imageId)).toContain(manual);

    // Protected, it survives a prune that counts every image, and rm refuses it.
    expect(await json(["image", "protect", manual.slice(0, 12), ...store])).toMatchObject({ imageId: manual });
    const all = await json(["prune", "--keep-last", "1", ...store]);
    expect((all.protected as Array<{ imageId: string }>).map((r) => r.imageId)).toEqual([manual]);
    expect((await ls("--domain", "host-1-vm-1")).find((i) => i.imageId === manual)).toMatchObject({
      protected: true,
    });
    const rm = await json(["image", "rm", manual, ...store], 2);
    expect((rm.error as { message: string }).message).toMatch(/is protected/);
    expect(await json(["image", "unprotect", manual, ...store])).toMatchObject({ wasProtected: true });
    expect((await ls("--domain", "host-1-vm-1")).find((i) => i.imageId === manual)).toMatchObject({
      protected: false,
    });
  });

  it("saves a domain whose latest image's manifest is corrupt again at the next batch, in full and flagged", async () => {
    type Listed = { imageId: string; domain: string; parent: string | null; parentSkipped?: { id: string } };
    const latest = async () =>
      ((await json(["image", "ls", "--domain", "host-1-vm-2", "--latest", ...store])).images as Listed[])[0]!;
    const before = await latest();
    const file = join(dir, "store", "manifests", before.imageId.slice(0, 2), before.imageId);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 7));

    const report = await json(["batch-save", "--hosts", "host-1", "--wait", "--no-compress", ...fleet, ...store]);
    expect(report).toMatchObject({ ok: true, saved: 2, failed: 0 });
    const after = await latest();
    expect(after.imageId).not.toBe(before.imageId);
    expect(after.parent).toBeNull();
    expect(after.parentSkipped).toMatchObject({ id: before.imageId });
    // The next one is incremental again, against the flagged image.
    await json(["batch-save", "--hosts", "host-1", "--wait", "--no-compress", ...fleet, ...store]);
    expect((await latest()).parent).toBe(after.imageId);
  });

  it("lists a down host's domains as not saved while the other hosts save, exits 1, and forgets the host", async () => {
    for (const worker of ["save-worker", "restore-worker"]) await stop(procs.get(`host-2-${worker}`)!);
    await until("host-2 to show as down", async () =>
      (await getHost(conn, prefix, "host-2"))?.state === "down" ? true : undefined,
    );
    expect((await json(["status", ...fleet])).hostCounts).toEqual({ up: 1, draining: 0, down: 1 });

    const report = await json(["batch-save", "--wait", "--no-compress", ...fleet, ...store], 1);
    expect(report).toMatchObject({ ok: false, saved: 2, failed: 0, failures: [] });
    expect((report.error as { message: string }).message).toBe("2 domains not saved (host down)");
    expect(report.notSaved).toEqual([
      { host: "host-2", domain: "host-2-vm-1", reason: expect.stringMatching(/host host-2 is down/) },
      { host: "host-2", domain: "host-2-vm-2", reason: expect.stringMatching(/host host-2 is down/) },
    ]);
    const text = await fleetCli(["batch-save", "--wait", "--no-compress", ...fleet, ...store]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/not saved: host-2 host-2-vm-1: host host-2 is down/);

    // A host that is up cannot be forgotten: its next heartbeat would bring it back.
    const refused = await json(["hosts", "forget", "host-1", ...fleet], 2);
    expect((refused.error as { message: string }).message).toMatch(/host host-1 is up/);

    const forgotten = await json(["hosts", "forget", "host-2", ...fleet]);
    expect(forgotten).toMatchObject({ ok: true, host: "host-2" });
    expect((forgotten.domains as unknown[]).length).toBe(2);
    const hosts = (await json(["hosts", ...fleet])).hosts as Array<{ host: string }>;
    expect(hosts.map((h) => h.host)).toEqual(["host-1"]);
    expect(await json(["batch-save", "--wait", "--no-compress", ...fleet, ...store])).toMatchObject({
      ok: true,
      saved: 2,
      notSaved: [],
    });

    // Its domains' images stay in the store (the scheduled batch saved them).
    const images = (await json(["image", "ls", ...store])).images as Array<{ domain: string; host: string }>;
    expect(new Set(images.filter((i) => i.host === "host-2").map((i) => i.domain))).toEqual(
      new Set(["host-2-vm-1", "host-2-vm-2"]),
    );
  });
});

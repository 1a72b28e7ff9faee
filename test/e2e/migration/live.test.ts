/**
 * Migration end to end: migrate workers as separate processes, jobs through
 * the real Redis, sim hosts as state directories. Live moves, a cold move
 * through the store, a dropped connection and a killed worker.
 */
import { join } from "node:path";
import { FlowProducer, Job, Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { listImages } from "@xenfleet/image";
import { LocalStore } from "@xenfleet/store";
import { bullPrefix, hostQueue, JOB_SPECS, jobData } from "@xenfleet/jobs";
import { TestFleet, waitForHosts, waitForJob } from "./test-fleet.js";
import { testRedis } from "@xenfleet/jobs/testing";

const MiB = 2 ** 20;
let fleet: TestFleet;
let r: ReturnType<typeof testRedis>;
let flows: FlowProducer;

beforeAll(async () => {
  r = testRedis();
  fleet = await TestFleet.create(r.prefix);
  flows = new FlowProducer({ connection: r.redis, prefix: bullPrefix(r.prefix) });
  fleet.startWorker("src");
  fleet.startWorker("dst");
  await waitForHosts(r.redis, r.prefix, ["src", "dst"]);
});

afterAll(async () => {
  await flows?.close();
  await fleet?.close();
  await r?.cleanup();
});

async function enqueue(
  id: string,
  domain: { uuid: string; name: string },
  extra: { bandwidth?: number; compression?: "none" | "lz4" | "zstd" } = {},
  cold?: { store: string },
) {
  const opts = JOB_SPECS["migrate-send"].options;
  const mode = cold ? "cold" : "live";
  await flows.addBulk([
    {
      name: "migrate-recv",
      queueName: hostQueue("migrate-recv", "dst"),
      data: jobData("migrate-recv", { migrationId: id, host: "dst", source: "src", domain, mode, ...cold }),
      opts: { ...opts, jobId: `${id}-recv` },
    },
    {
      name: "migrate-send",
      queueName: hostQueue("migrate-send", "src"),
      data: jobData("migrate-send", {
        migrationId: id,
        host: "src",
        target: "dst",
        domain,
        mode,
        compress: true,
        ...extra,
        ...cold,
      }),
      opts: { ...opts, jobId: `${id}-send` },
    },
  ]);
}

describe("live migration between worker processes", () => {
  it("moves a running domain; its memory on the target is what the source had", async () => {
    const src = await SimHost.open(fleet.simDir("src"));
    const dst = await SimHost.open(fleet.simDir("dst"));
    const d = await src.createDomain({ name: "live-1", type: "hvm", memoryBytes: 16 * MiB });
    const before = await src.digest(d.uuid);
    await enqueue("live-1", { uuid: d.uuid, name: d.name }, { compression: "zstd" });
    const send = await waitForJob(r.redis, r.prefix, hostQueue("migrate-send", "src"), "live-1-send");
    const recv = await waitForJob(r.redis, r.prefix, hostQueue("migrate-recv", "dst"), "live-1-recv");
    expect(send.failedReason).toBeUndefined();
    expect(recv.failedReason).toBeUndefined();
    expect(send.returnvalue).toMatchObject({ v: 2, mode: "live" });
    expect(send.returnvalue.compressionRatio).toBeGreaterThan(1);
    expect(await src.listDomains()).toEqual([]);
    const moved = await dst.domainInfo(d.uuid);
    expect(moved.state).toBe("running");
    expect((await dst.digest(d.uuid)).digest).toBe(before.digest);
    await dst.destroy(d.uuid);
  });

  it("moves a domain cold, through the store as an image, and leaves no image behind", async () => {
    const src = await SimHost.open(fleet.simDir("src"));
    const dst = await SimHost.open(fleet.simDir("dst"));
    const d = await src.createDomain({ name: "cold-1", type: "pv", memoryBytes: 16 * MiB });
    const before = await src.digest(d.uuid);
    // The workers' one store (XENFLEET_STORE, so "main"), under the fleet's directory.
    await enqueue("cold-1", { uuid: d.uuid, name: d.name }, {}, { store: "main" });
    const send = await waitForJob(r.redis, r.prefix, hostQueue("migrate-send", "src"), "cold-1-send");
    const recv = await waitForJob(r.redis, r.prefix, hostQueue("migrate-recv", "dst"), "cold-1-recv");
    expect(send.failedReason).toBeUndefined();
    expect(recv.failedReason).toBeUndefined();
    expect(send.returnvalue).toMatchObject({ v: 2, mode: "cold" });
    expect(await src.listDomains()).toEqual([]);
    expect((await dst.domainInfo(d.uuid)).state).toBe("running");
    await dst.pause(d.uuid);
    expect((await dst.digest(d.uuid)).digest).toBe(before.digest);
    expect(await listImages(await LocalStore.open(join(fleet.dir, "store")), { domain: d.uuid })).toEqual([]);
    await dst.destroy(d.uuid);
  });

  it("a connection that dies midway leaves the domain running on the source, once", async () => {
    const src = await SimHost.open(fleet.simDir("src"));
    const d = await src.createDomain({ name: "drop-1", type: "pv", memoryBytes: 32 * MiB, dirtyPagesPerSec: 200 });
    // 4 MiB/s: the transfer takes seconds, long enough to cut it in the middle.
    await enqueue("drop-1", { uuid: d.uuid, name: d.name }, { bandwidth: 4 * MiB, compression: "none" });
    const queue = new Queue(hostQueue("migrate-send", "src"), { connection: r.redis, prefix: bullPrefix(r.prefix) });
    try {
      for (;;) {
        const job = await Job.fromId(queue, "drop-1-send");
        const p = job?.progress as { percent?: number } | undefined;
        if ((p?.percent ?? 0) >= 10) break;
        await new Promise((res) => setTimeout(res, 100));
      }
    } finally {
      await queue.close();
    }
    // The receiving worker dies without warning: its socket closes mid-stream.
    await fleet.stop("dst-migrate", "SIGKILL");
    const send = await waitForJob(r.redis, r.prefix, hostQueue("migrate-send", "src"), "drop-1-send");
    expect(send.finishedOn).toBeDefined();
    expect(send.failedReason).toMatch(/MIGRATION_FAILED|connection|closed/i);
    expect(await r.redis.hget(`${bullPrefix(r.prefix)}:migration:drop-1`, "outcome")).toBe("aborted");
    // Exactly one copy, running, on the source; the target's half-built copy is gone.
    expect((await src.domainInfo(d.uuid)).state).toBe("running");
    const dst = await SimHost.open(fleet.simDir("dst")); // opening sweeps what the dead process left in incoming/
    expect((await dst.listDomains()).map((x) => x.uuid)).not.toContain(d.uuid);
    fleet.startWorker("dst");
    await waitForHosts(r.redis, r.prefix, ["dst"]);
  });

  it("a source worker killed mid-migration: its successor's startup sweep settles the record, and the domain runs once, on the source", async () => {
    const src = await SimHost.open(fleet.simDir("src"));
    const d = await src.createDomain({ name: "crash-1", type: "hvm", memoryBytes: 32 * MiB, dirtyPagesPerSec: 200 });
    await enqueue("crash-1", { uuid: d.uuid, name: d.name }, { bandwidth: 4 * MiB, compression: "none" });
    const key = `${bullPrefix(r.prefix)}:migration:crash-1`;
    while ((await r.redis.hget(key, "source")) !== "src" || (await r.redis.hget(key, "address")) === null)
      await new Promise((res) => setTimeout(res, 100));
    await new Promise((res) => setTimeout(res, 1500)); // some of the transfer happens
    await fleet.stop("src-migrate", "SIGKILL");
    fleet.startWorker("src");
    await waitForHosts(r.redis, r.prefix, ["src"]);
    const deadline = Date.now() + 60_000;
    while ((await r.redis.hget(key, "sourceSettled")) !== "1") {
      if (Date.now() > deadline) throw new Error(`not settled: ${JSON.stringify(await r.redis.hgetall(key))}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(await r.redis.hget(key, "outcome")).toBe("aborted");
    expect((await src.domainInfo(d.uuid)).state).toBe("running");
    const dst = await SimHost.open(fleet.simDir("dst"));
    expect((await dst.listDomains()).map((x) => x.uuid)).not.toContain(d.uuid);
  });
});

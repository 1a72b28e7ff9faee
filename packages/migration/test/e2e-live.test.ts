/**
 * Live migration end to end: migrate workers as separate processes, jobs
 * through the real Redis, sim hosts as state directories.
 */
import { FlowProducer, Job, Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { bullPrefix, hostQueue, JOB_SPECS, jobData } from "@xenfleet/jobs";
import { TestFleet, waitForHosts, waitForJob } from "./helpers/fleet.js";
import { testRedis } from "./helpers/redis.js";

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

async function enqueue(id: string, domain: { uuid: string; name: string }, extra: { bandwidth?: number; compression?: "none" | "lz4" | "zstd" } = {}) {
  const opts = JOB_SPECS["migrate-send"].options;
  await flows.addBulk([
    { name: "migrate-recv", queueName: hostQueue("migrate-recv", "dst"), data: jobData("migrate-recv", { migrationId: id, host: "dst", source: "src", domain }), opts: { ...opts, jobId: `${id}-recv` } },
    { name: "migrate-send", queueName: hostQueue("migrate-send", "src"), data: jobData("migrate-send", { migrationId: id, host: "src", target: "dst", domain, mode: "live", compress: true, ...extra }), opts: { ...opts, jobId: `${id}-send` } },
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
    expect(send.returnvalue).toMatchObject({ v: 1, mode: "live" });
    expect(send.returnvalue.compressionRatio).toBeGreaterThan(1);
    expect(await src.listDomains()).toEqual([]);
    const moved = await dst.domainInfo(d.uuid);
    expect(moved.state).toBe("running");
    expect((await dst.digest(d.uuid)).digest).toBe(before.digest);
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
});

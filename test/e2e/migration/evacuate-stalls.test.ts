/**
 * An evacuation always ends, whatever a target does. Four hosts, each a
 * migrate-worker process, and a controller process. The target the planner
 * prefers (t1, the most memory free) has its migrate worker stopped with
 * SIGSTOP: its receive jobs are never taken, the sends give up waiting for a
 * listener and record the abort, and the evacuation retries the domain on
 * another target (and sends the moves still queued for t1 elsewhere) and
 * finishes, the failed attempt and its reason in the report. Resumed, t1's worker ends the stale receive jobs at once and holds
 * no copy. Then a target that already holds a domain's uuid refuses it, and
 * the report gives that reason, not only "peer closed the connection"; and
 * the command line's tags and anti-affinity decide where domains go.
 */
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poll } from "@xenfleet/core";
import { SimHost } from "@xenfleet/hypervisor";
import {
  bullPrefix,
  CONTROLLER_QUEUE,
  hostQueue,
  JOB_SPECS,
  jobData,
  listHosts,
  type JobPayload,
  type JobResult,
} from "@xenfleet/jobs";
import { REDIS_URL, testRedis } from "@xenfleet/jobs/testing";
import { cli } from "../helpers.js";
import { TestFleet, waitForHosts, waitForJob } from "./test-fleet.js";

const MiB = 2 ** 20;
let fleet: TestFleet;
let r: ReturnType<typeof testRedis>;
let controller: Queue;

beforeAll(async () => {
  r = testRedis();
  fleet = await TestFleet.create(r.prefix);
  controller = new Queue(CONTROLLER_QUEUE, { connection: r.redis, prefix: bullPrefix(r.prefix) });
  const memory = { s1: 128, t1: 256, t2: 128, t3: 128 };
  for (const [h, m] of Object.entries(memory))
    await SimHost.open(fleet.simDir(h), { name: h, totalMemoryBytes: m * MiB });
  // Senders give up on a silent receiver after 8 s (60 s by default), long enough for a loaded machine.
  const senders = { XENFLEET_MIGRATE_LISTEN_TIMEOUT_MS: "8000" };
  fleet.startWorker("s1", { XENFLEET_SIM_MEMORY: "128M", ...senders });
  // t1's heartbeat lives 15 s: stopped, it still shows as up when the evacuation plans.
  fleet.startWorker("t1", { XENFLEET_SIM_MEMORY: "256M", XENFLEET_HEARTBEAT_MS: "5000", ...senders });
  fleet.startWorker("t2", { XENFLEET_SIM_MEMORY: "128M", ...senders });
  fleet.startWorker("t3", { XENFLEET_SIM_MEMORY: "128M", XENFLEET_HOST_TAGS: "ssd", ...senders });
  fleet.startController();
  await waitForHosts(r.redis, r.prefix, Object.keys(memory));
});

afterAll(async () => {
  fleet?.procs.get("t1-migrate")?.child.kill("SIGCONT");
  await controller?.close();
  await fleet?.close();
  await r?.cleanup();
});

async function evacuate(id: string, hosts: string[], extra: Partial<JobPayload<"evacuate">> = {}) {
  await controller.add(
    "evacuate",
    jobData("evacuate", {
      evacuationId: id,
      hosts,
      limits: { perSource: 2, perTarget: 2, total: 4 },
      maxAttempts: 3,
      ...extra,
    }),
    { ...JOB_SPECS.evacuate.options, attempts: 1, jobId: id },
  );
  // The bound: two listener timeouts and the moves after them take well under this.
  const job = await waitForJob(r.redis, r.prefix, CONTROLLER_QUEUE, id, 90_000);
  expect(job.failedReason).toBeUndefined();
  return job.returnvalue as JobResult<"evacuate">;
}

/** Until the registry shows `count` domains on `host` (the heartbeat publishes them). */
function registered(host: string, count: number) {
  return poll(
    `${count} domain(s) registered on ${host}`,
    async () => {
      const h = (await listHosts(r.redis, r.prefix)).find((x) => x.id === host);
      return h?.info?.domains.length === count ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

describe("evacuation with a stopped target", () => {
  it("finishes on the other targets; the attempt on the stopped one is in the report with its reason", async () => {
    const s1 = await SimHost.open(fleet.simDir("s1"));
    const digests = new Map<string, string>();
    for (let i = 0; i < 2; i++) {
      const d = await s1.createDomain({ name: `vm${i}`, type: "pv", memoryBytes: 16 * MiB });
      digests.set(d.uuid, (await s1.digest(d.uuid)).digest);
    }
    await registered("s1", 2);
    const t1 = fleet.procs.get("t1-migrate")!.child;
    t1.kill("SIGSTOP");
    let report: JobResult<"evacuate">;
    try {
      // One move at a time per target: the second domain, planned on t1 too, waits its turn there.
      report = await evacuate("evac-stop", ["s1"], { limits: { perSource: 2, perTarget: 1, total: 4 } });
    } finally {
      t1.kill("SIGCONT");
    }

    expect(report.failed).toEqual([]);
    expect(report.emptied).toEqual(["s1"]);
    expect(report.placements).toHaveLength(2);
    for (const p of report.placements ?? []) {
      expect(["t2", "t3"]).toContain(p.to);
      expect(p.mode).toBe("live");
    }
    // The first move tried t1 and failed with the reason; the second, still queued for t1 then, went
    // elsewhere without spending an attempt there (t1's worker had not taken a receive job).
    const [tried, spared] = [...(report.placements ?? [])].sort((a, b) => b.attempts - a.attempts);
    expect(tried?.attempts).toBe(2);
    expect(tried?.tries).toEqual([
      { target: "t1", mode: "live", reason: expect.stringMatching(/after 8000 ms waiting for the receiver to listen/) },
    ]);
    expect(spared?.attempts).toBe(1);
    expect(spared?.tries).toBeUndefined();
    // Nothing lost: each domain runs once, on the target the report names, with its memory intact.
    expect(await s1.listDomains()).toEqual([]);
    for (const p of report.placements ?? []) {
      const sim = await SimHost.open(fleet.simDir(p.to));
      expect((await sim.domainInfo(p.domain.uuid)).state).toBe("running");
      await sim.pause(p.domain.uuid);
      expect((await sim.digest(p.domain.uuid)).digest).toBe(digests.get(p.domain.uuid));
      await sim.unpause(p.domain.uuid);
    }

    // Resumed, t1's worker takes the stale receive jobs and ends them: the migrations were aborted.
    const recvQ = new Queue(hostQueue("migrate-recv", "t1"), { connection: r.redis, prefix: bullPrefix(r.prefix) });
    try {
      const failed = await poll(
        "t1's receive jobs to end",
        async () => {
          const open = await recvQ.getJobCounts("waiting", "active", "delayed");
          const jobs = await recvQ.getJobs(["failed"]);
          const pending = Object.values(open).reduce((sum, n) => sum + n, 0);
          return pending === 0 && jobs.length === 1 ? jobs : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      for (const j of failed) expect(j.failedReason).toMatch(/aborted/);
    } finally {
      await recvQ.close();
    }
    expect(await (await SimHost.open(fleet.simDir("t1"))).listDomains()).toEqual([]);
  });

  it("reports the target's own reason when it refuses a domain whose uuid it already holds", async () => {
    const t2 = await SimHost.open(fleet.simDir("t2"));
    const t1 = await SimHost.open(fleet.simDir("t1"));
    const dom = await t2.createDomain({ name: "dup", type: "pv", memoryBytes: 8 * MiB });
    // t1 (the most memory free, so tried first) already runs a domain with that uuid.
    await t1.createDomain({ name: "dup-twin", type: "pv", memoryBytes: 8 * MiB, uuid: dom.uuid });
    await registered("t1", 1);
    await registered("t2", (await t2.listDomains()).length);
    // Through the CLI, as an operator runs it: its JSON report names the failed attempt and the target's reason.
    const run = await xenfleetCli(["evacuate", "t2", "--attempts", "2", "--wait", "--json"]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      ok: boolean;
      placements: Array<{ uuid: string; to: string; attempts: number; tries: unknown[] }>;
    };
    expect(report.ok).toBe(true);
    const moved = report.placements.find((p) => p.uuid === dom.uuid);
    expect(moved?.to).toBe("t3");
    expect(moved?.tries).toEqual([
      { target: "t1", mode: "live", reason: expect.stringMatching(/a domain with uuid .* already exists/) },
    ]);
    // The twin on t1 is untouched, and no second domain with that uuid was built there.
    const onT1 = (await t1.listDomains()).filter((d) => d.uuid === dom.uuid);
    expect(onT1.map((d) => [d.name, d.state])).toEqual([["dup-twin", "running"]]);
  });

  it("places by the tags and anti-affinity given on the command line", async () => {
    const s1 = await SimHost.open(fleet.simDir("s1"));
    for (const name of ["db1", "ha1", "ha2"]) await s1.createDomain({ name, type: "pv", memoryBytes: 8 * MiB });
    await registered("s1", 3);
    // Left to memory alone, all three would go to t1 (by far the most free); t3 alone has the tag.
    const run = await xenfleetCli([
      "evacuate",
      "s1",
      "--tag",
      "db1=ssd",
      "--anti-affinity",
      "ha1,ha2",
      "--wait",
      "--json",
    ]);
    expect(run.code).toBe(0);
    const { placements } = JSON.parse(run.stdout) as { placements: Array<{ domain: string; to: string }> };
    const to = new Map(placements.map((p) => [p.domain, p.to]));
    expect(to.get("db1")).toBe("t3");
    expect(new Set([to.get("ha1"), to.get("ha2")])).toEqual(new Set(["t1", "t3"]));
  });

  it("migrate --wait to a stopped target ends with the reason, the domain still running on its source", async () => {
    const t3 = await SimHost.open(fleet.simDir("t3"));
    const dom = await t3.createDomain({ name: "solo", type: "pv", memoryBytes: 8 * MiB });
    await registered("t3", (await t3.listDomains()).length);
    const t1 = fleet.procs.get("t1-migrate")!.child;
    t1.kill("SIGSTOP");
    let run: Awaited<ReturnType<typeof xenfleetCli>>;
    try {
      run = await xenfleetCli(["migrate", "solo", "--to", "t1", "--wait", "--json"]);
    } finally {
      t1.kill("SIGCONT");
    }
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as { ok: boolean; error: { message: string } };
    expect(out.ok).toBe(false);
    expect(out.error.message).toMatch(/stays on t3: .*waiting for the receiver to listen/);
    expect((await t3.domainInfo(dom.uuid)).state).toBe("running");
  });
});

function xenfleetCli(args: string[]) {
  return cli([...args, "--redis", REDIS_URL, "--prefix", r.prefix]);
}

/**
 * Evacuation end to end: five hosts, each a migrate-worker process, and a
 * controller process running runEvacuation on the evacuate job.
 */
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { bullPrefix, CONTROLLER_QUEUE, JOB_SPECS, jobData, listHosts, type JobResult } from "@xenfleet/jobs";
import { TestFleet, waitForHosts, waitForJob } from "./test-fleet.js";
import { testRedis } from "@xenfleet/jobs/testing";

const MiB = 2 ** 20;
const HOSTS = ["h1", "h2", "h3", "h4", "h5"];
let fleet: TestFleet;
let r: ReturnType<typeof testRedis>;
let controller: Queue;

beforeAll(async () => {
  r = testRedis();
  fleet = await TestFleet.create(r.prefix);
  controller = new Queue(CONTROLLER_QUEUE, { connection: r.redis, prefix: bullPrefix(r.prefix) });
  for (const h of HOSTS) await SimHost.open(fleet.simDir(h), { name: h, totalMemoryBytes: 128 * MiB });
  for (const h of HOSTS) fleet.startWorker(h, { XENFLEET_SIM_MEMORY: "128M" });
  fleet.startController();
  await waitForHosts(r.redis, r.prefix, HOSTS);
});

afterAll(async () => {
  await controller?.close();
  await fleet?.close();
  await r?.cleanup();
});

async function evacuate(id: string, hosts: string[]): Promise<JobResult<"evacuate">> {
  await controller.add(
    "evacuate",
    jobData("evacuate", {
      evacuationId: id,
      hosts,
      limits: { perSource: 2, perTarget: 2, total: 4 },
      compression: "lz4",
    }),
    {
      ...JOB_SPECS.evacuate.options,
      attempts: 1,
      jobId: id,
    },
  );
  const job = await waitForJob(r.redis, r.prefix, CONTROLLER_QUEUE, id, 200_000);
  expect(job.failedReason).toBeUndefined();
  return job.returnvalue as JobResult<"evacuate">;
}

/** Waits until the registry shows what the hosts' workers have seen after the moves. */
async function settle(): Promise<void> {
  await new Promise((res) => setTimeout(res, 1000));
}

describe("evacuation", () => {
  it("empties 2 of 5 hosts; every domain runs once elsewhere with its memory intact", async () => {
    const digests = new Map<string, string>();
    for (const h of ["h1", "h2"]) {
      const sim = await SimHost.open(fleet.simDir(h));
      for (let i = 0; i < 3; i++) {
        const d = await sim.createDomain({ name: `${h}-vm${i}`, type: i % 2 ? "pv" : "hvm", memoryBytes: 16 * MiB });
        digests.set(d.uuid, (await sim.digest(d.uuid)).digest);
      }
    }
    await settle(); // the heartbeat publishes the new domains
    const report = await evacuate("evac-1", ["h1", "h2"]);
    expect(report.failed).toEqual([]);
    expect(report.emptied?.sort()).toEqual(["h1", "h2"]);
    expect(report.placements).toHaveLength(6);
    for (const h of ["h1", "h2"]) expect(await (await SimHost.open(fleet.simDir(h))).listDomains()).toEqual([]);
    const seen = new Map<string, string>();
    for (const h of ["h3", "h4", "h5"]) {
      const sim = await SimHost.open(fleet.simDir(h));
      for (const d of await sim.listDomains()) {
        expect(seen.has(d.uuid)).toBe(false);
        seen.set(d.uuid, h);
        expect(d.state).toBe("running");
        expect((await sim.digest(d.uuid)).digest).toBe(digests.get(d.uuid));
      }
    }
    expect([...seen.keys()].sort()).toEqual([...digests.keys()].sort());
    for (const p of report.placements ?? []) expect(seen.get(p.domain.uuid)).toBe(p.to);
    const states = new Map((await listHosts(r.redis, r.prefix)).map((h) => [h.id, h.state]));
    expect(states.get("h1")).toBe("draining");
    expect(states.get("h2")).toBe("draining");
  });

  it("when capacity is short, reports the domains it could not place and does not declare the host empty", async () => {
    const h3 = await SimHost.open(fleet.simDir("h3"));
    // Fill h4 and h5 so that each has 32 MiB free: h3's 16 MiB domains fit, a 40 MiB one does not.
    for (const h of ["h4", "h5"]) {
      const sim = await SimHost.open(fleet.simDir(h));
      const free = (await sim.hostInfo()).freeMemoryBytes;
      await sim.createDomain({ name: `${h}-filler`, type: "pv", memoryBytes: free - 32 * MiB });
    }
    const big = await h3.createDomain({ name: "big", type: "pv", memoryBytes: 40 * MiB });
    await settle();
    const report = await evacuate("evac-2", ["h3"]);
    const failed = report.failed.find((f) => f.domain.uuid === big.uuid);
    expect(failed?.error).toMatch(/lack memory/);
    expect(report.emptied).toEqual([]);
    expect(report.notEmpty).toEqual([{ host: "h3", remaining: 1 }]);
    // The domains that fit moved; the one that did not still runs where it was.
    expect((await h3.domainInfo(big.uuid)).state).toBe("running");
    expect((await h3.listDomains()).map((d) => d.uuid)).toEqual([big.uuid]);
  });
});

/**
 * Cold fallback, end to end on sim hosts (migrate-worker processes and a
 * controller process): the only target has no direct path from the source
 * (its receivers listen on 127.0.0.2 but advertise 127.0.0.1, as a host
 * behind a firewall would), so every live attempt fails. Without a cold
 * store the domain stays where it is, with the reason; with one
 * (`coldVia`, what `evacuate --cold-fallback` sends) it is saved into the
 * store and restored on that target, its memory intact.
 */
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poll } from "@xenfleet/core";
import { SimHost } from "@xenfleet/hypervisor";
import {
  bullPrefix,
  CONTROLLER_QUEUE,
  JOB_SPECS,
  jobData,
  listHosts,
  type JobPayload,
  type JobResult,
} from "@xenfleet/jobs";
import { testRedis } from "@xenfleet/jobs/testing";
import { TestFleet, waitForHosts, waitForJob } from "./test-fleet.js";

const MiB = 2 ** 20;
let fleet: TestFleet;
let r: ReturnType<typeof testRedis>;
let controller: Queue;

beforeAll(async () => {
  r = testRedis();
  fleet = await TestFleet.create(r.prefix);
  controller = new Queue(CONTROLLER_QUEUE, { connection: r.redis, prefix: bullPrefix(r.prefix) });
  for (const h of ["c1", "c2"]) await SimHost.open(fleet.simDir(h), { name: h, totalMemoryBytes: 128 * MiB });
  fleet.startWorker("c1", { XENFLEET_SIM_MEMORY: "128M" });
  fleet.startWorker("c2", { XENFLEET_SIM_MEMORY: "128M", XENFLEET_MIGRATE_BIND: "127.0.0.2" });
  fleet.startController();
  await waitForHosts(r.redis, r.prefix, ["c1", "c2"]);
});

afterAll(async () => {
  await controller?.close();
  await fleet?.close();
  await r?.cleanup();
});

async function evacuate(id: string, extra: Partial<JobPayload<"evacuate">>): Promise<JobResult<"evacuate">> {
  await controller.add(
    "evacuate",
    jobData("evacuate", {
      evacuationId: id,
      hosts: ["c1"],
      limits: { perSource: 2, perTarget: 2, total: 4 },
      maxAttempts: 2,
      ...extra,
    }),
    { ...JOB_SPECS.evacuate.options, attempts: 1, jobId: id },
  );
  const job = await waitForJob(r.redis, r.prefix, CONTROLLER_QUEUE, id, 120_000);
  expect(job.failedReason).toBeUndefined();
  return job.returnvalue as JobResult<"evacuate">;
}

describe("evacuation's cold fallback", () => {
  it("moves a domain through the store when no live target is left, and only when asked to", async () => {
    const c1 = await SimHost.open(fleet.simDir("c1"));
    const c2 = await SimHost.open(fleet.simDir("c2"));
    const dom = await c1.createDomain({ name: "web", type: "hvm", memoryBytes: 16 * MiB });
    const digest = (await c1.digest(dom.uuid)).digest;
    await poll(
      "the domain registered",
      async () =>
        (await listHosts(r.redis, r.prefix)).find((h) => h.id === "c1")?.info?.domains.length === 1 ? true : undefined,
      { timeoutMs: 30_000, intervalMs: 100 },
    );

    const live = await evacuate("evac-live-only", {});
    expect(live.placements).toEqual([]);
    expect(live.notEmpty).toEqual([{ host: "c1", remaining: 1 }]);
    expect(live.failed).toHaveLength(1);
    expect(live.failed[0]?.tries).toEqual([
      { target: "c2", mode: "live", reason: expect.stringMatching(/could not connect/) },
    ]);
    expect((await c1.domainInfo(dom.uuid)).state).toBe("running");
    expect(await c2.listDomains()).toEqual([]);

    const cold = await evacuate("evac-cold-fallback", { coldVia: "main" });
    expect(cold.failed).toEqual([]);
    expect(cold.moved).toBe(0);
    expect(cold.cold).toBe(1);
    expect(cold.emptied).toEqual(["c1"]);
    expect(cold.placements).toEqual([
      {
        domain: { uuid: dom.uuid, name: "web" },
        from: "c1",
        to: "c2",
        mode: "cold",
        attempts: 2,
        tries: [{ target: "c2", mode: "live", reason: expect.stringMatching(/could not connect/) }],
      },
    ]);
    expect(await c1.listDomains()).toEqual([]);
    expect((await c2.domainInfo(dom.uuid)).state).toBe("running");
    await c2.pause(dom.uuid);
    expect((await c2.digest(dom.uuid)).digest).toBe(digest);
  });
});

/**
 * The three limits of an evacuation are separate: migrations at once leaving
 * one host (perSource), arriving on one host (perTarget) and in the whole
 * fleet (total). Four hosts, each a migrate-worker process; this process runs
 * runEvacuation and watches every progress report it makes. The first
 * report after the moves start shows as many moves running as the limits
 * allow, so each limit is seen both holding and reached.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poll } from "@xenfleet/core";
import { runEvacuation, type EvacuationProgress } from "@xenfleet/fleet";
import { SimHost } from "@xenfleet/hypervisor";
import { clearDraining, jobData, listHosts, type JobPayload } from "@xenfleet/jobs";
import { testRedis } from "@xenfleet/jobs/testing";
import { TestFleet, waitForHosts } from "./test-fleet.js";

const MiB = 2 ** 20;
const HOSTS = ["l1", "l2", "l3", "l4"];
let fleet: TestFleet;
let r: ReturnType<typeof testRedis>;

beforeAll(async () => {
  r = testRedis();
  fleet = await TestFleet.create(r.prefix);
  for (const h of HOSTS) await SimHost.open(fleet.simDir(h), { name: h, totalMemoryBytes: 128 * MiB });
  for (const h of HOSTS) fleet.startWorker(h, { XENFLEET_SIM_MEMORY: "128M" });
  await waitForHosts(r.redis, r.prefix, HOSTS);
});

afterAll(async () => {
  await fleet?.close();
  await r?.cleanup();
});

/** Until the registry shows each host with the domains its sim holds. */
async function registryCaughtUp(): Promise<void> {
  await poll(
    "the registry to show every host's domains",
    async () => {
      const hosts = await listHosts(r.redis, r.prefix);
      for (const h of HOSTS) {
        const held = (await (await SimHost.open(fleet.simDir(h))).listDomains()).length;
        if (hosts.find((x) => x.id === h)?.info?.domains.length !== held) return undefined;
      }
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

/** Runs an evacuation and returns the most moves seen running at once: in all, per source, per target. */
async function evacuateWatching(id: string, hosts: string[], limits: JobPayload<"evacuate">["limits"]) {
  await registryCaughtUp();
  const most = { total: 0, perSource: 0, perTarget: 0 };
  const count = (keys: string[]) => Math.max(0, ...keys.map((k) => keys.filter((x) => x === k).length));
  const onProgress = (p: EvacuationProgress) => {
    const running = p.domains.filter((d) => d.state === "migrating");
    most.total = Math.max(most.total, running.length);
    most.perSource = Math.max(most.perSource, count(running.map((d) => d.source)));
    most.perTarget = Math.max(most.perTarget, count(running.map((d) => d.target ?? "?")));
  };
  const payload = jobData("evacuate", { evacuationId: id, hosts, limits });
  const report = await runEvacuation(r.redis, r.prefix, payload, { onProgress, pollMs: 100 });
  expect(report.failed).toEqual([]);
  expect(report.placements).toHaveLength(4);
  for (const h of hosts) await clearDraining(r.redis, r.prefix, h);
  return most;
}

describe("evacuation limits", () => {
  it("holds migrations per source, per target and in all to their own limits", async () => {
    for (const h of ["l1", "l2"]) {
      const sim = await SimHost.open(fleet.simDir(h));
      for (let i = 0; i < 2; i++) await sim.createDomain({ name: `${h}-vm${i}`, type: "pv", memoryBytes: 8 * MiB });
    }
    // One at a time from each source: two sources, two at once.
    expect(await evacuateWatching("evac-per-source", ["l1", "l2"], { perSource: 1, perTarget: 8, total: 8 })).toEqual({
      total: 2,
      perSource: 1,
      perTarget: expect.any(Number),
    });
    // Back again, one at a time into each target: two targets, two at once.
    expect(await evacuateWatching("evac-per-target", ["l3", "l4"], { perSource: 8, perTarget: 1, total: 8 })).toEqual({
      total: 2,
      perSource: expect.any(Number),
      perTarget: 1,
    });
    // One at a time in the whole fleet.
    expect(await evacuateWatching("evac-total", ["l1", "l2"], { perSource: 8, perTarget: 8, total: 1 })).toEqual({
      total: 1,
      perSource: 1,
      perTarget: 1,
    });
  });
});

/**
 * `xenfleet evacuate`'s options reach the evacuate job as the controller
 * reads it: the built CLI run as a process against a real Redis holding a
 * registry (no controller runs, so the queued job stays to be read). Each
 * limit is its own field; --per-host sets both per-host limits unless one
 * is given; placement rules and attempts go through; a rule naming a domain
 * that is not there is refused rather than accepted and ignored.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullPrefix, CONTROLLER_QUEUE, createRedis, heartbeat, parseJob, type HostInfo } from "@xenfleet/jobs";
import { deletePrefix, REDIS_URL, testPrefix } from "@xenfleet/jobs/testing";
import { buildCli, xenfleet } from "./helpers.js";

const prefix = testPrefix("xfevacopt");
const redis = createRedis(REDIS_URL, "producer", `${prefix}-test`);
const queue = new Queue(CONTROLLER_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
let dir: string;

function host(id: string, domains: Array<[string, string]>): HostInfo {
  return {
    v: 1,
    id,
    address: "127.0.0.1",
    memoryTotal: 8 * 2 ** 30,
    memoryFree: 4 * 2 ** 30,
    tags: [],
    domains: domains.map(([name, uuid]) => ({ name, uuid, memory: 64 * 2 ** 20, state: "running" as const })),
  };
}

beforeAll(async () => {
  await buildCli();
  dir = await mkdtemp(join(tmpdir(), "xenfleet-evac-options-"));
  await heartbeat(redis, prefix, host("host-1", [["db1", "6f1e2d3c-0000-4000-8000-00000000000a"]]), 600_000);
  await heartbeat(redis, prefix, host("host-2", [["db2", "6f1e2d3c-0000-4000-8000-00000000000b"]]), 600_000);
}, 600_000);

afterAll(async () => {
  await queue.close();
  await deletePrefix(redis, prefix);
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `evacuate host-1 ARGS --json` and returns the payload of the job it queued. */
async function queued(args: string[]) {
  const out = await xenfleet(["evacuate", "host-1", ...args, "--json", "--redis", REDIS_URL, "--prefix", prefix]);
  expect(out.stderr).toBe("");
  expect(out.code).toBe(0);
  const { evacuationId } = JSON.parse(out.stdout) as { evacuationId: string };
  const job = await queue.getJob(evacuationId);
  return parseJob("evacuate", job?.data);
}

describe("evacuate options", () => {
  it("sets per-source, per-target and cluster-wide limits apart", async () => {
    const p = await queued(["--per-source", "3", "--per-target", "1", "--max-parallel", "5"]);
    expect(p.limits).toEqual({ perSource: 3, perTarget: 1, total: 5 });
  });

  it("--per-host sets both per-host limits; a specific one given wins", async () => {
    expect((await queued(["--per-host", "4"])).limits).toEqual({ perSource: 4, perTarget: 4, total: 8 });
    expect((await queued(["--per-host", "4", "--per-source", "1"])).limits).toEqual({
      perSource: 1,
      perTarget: 4,
      total: 8,
    });
    expect((await queued([])).limits).toEqual({ perSource: 2, perTarget: 2, total: 8 });
  });

  it("carries attempts, the cold fallback's store, tags, anti-affinity and bandwidth", async () => {
    const p = await queued([
      "--attempts",
      "5",
      "--cold-fallback",
      "--store",
      "main",
      "--tag",
      "db1=ssd,rack-3",
      "--anti-affinity",
      "db1,db2",
      "--bandwidth",
      "200M",
    ]);
    expect(p.maxAttempts).toBe(5);
    expect(p.cold).toBeUndefined();
    expect(p.coldVia).toBe("main");
    expect(p.requireTags).toEqual([{ domain: "db1", tags: ["ssd", "rack-3"] }]);
    expect(p.antiAffinity).toEqual([["db1", "db2"]]);
    expect(p.bandwidth).toBe(200 * 2 ** 20);
  });

  it("refuses rules naming domains that are not there, and attempts beyond 10", async () => {
    const run = (args: string[]) =>
      xenfleet(["evacuate", "host-1", ...args, "--json", "--redis", REDIS_URL, "--prefix", prefix]);
    const before = await queue.count();
    const notEvacuated = await run(["--tag", "db2=ssd"]);
    expect(notEvacuated.code).toBe(2);
    expect(notEvacuated.stdout).toMatch(/--tag: no host being evacuated has a domain \\"db2\\"/);
    const unknown = await run(["--anti-affinity", "db1,nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toMatch(/nope/);
    expect((await run(["--anti-affinity", "db1"])).stdout).toMatch(/name at least two domains/);
    expect((await run(["--tag", "db1"])).stdout).toMatch(/DOMAIN=TAG/);
    expect((await run(["--attempts", "11"])).stdout).toMatch(/--attempts is at most 10/);
    // Nothing was queued by the refused runs.
    expect(await queue.count()).toBe(before);
  });
});

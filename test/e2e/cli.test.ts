/**
 * The CLI against a fleet it started itself: `xenfleet up --detach` (a
 * supervisor and its service processes in the background), the inventory
 * and work commands with --json, `down`; and `xenfleet demo` end to end.
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { CONTROLLER_QUEUE } from "@xenfleet/jobs";
import { cli, deletePrefix, fileUrl, queue, redis, REDIS_URL, tempDir, testPrefix } from "./helpers.js";

describe("xenfleet up, the fleet commands, down", () => {
  const prefix = testPrefix();
  const dir = tempDir();
  const common = ["--redis", REDIS_URL, "--prefix", prefix, "--store", fileUrl(join(dir, "store"))];
  let conn: Redis | undefined;

  afterAll(async () => {
    // Stop the fleet even when a test failed half way.
    if (existsSync(join(dir, `up-${prefix}.pid`))) await cli(["down", ...common, "--state-dir", dir]);
    conn ??= redis();
    await deletePrefix(conn, prefix);
    await conn.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it("brings up sim hosts in the background, lists them, saves, and shuts down", async () => {
    const up = await cli([
      "up",
      ...common,
      "--detach",
      "--hosts",
      "2",
      "--domains",
      "2",
      "--memory",
      "8M",
      "--dirty-rate",
      "50",
      "--state-dir",
      dir,
    ]);
    expect(up.code, up.stderr).toBe(0);
    expect(existsSync(join(dir, `up-${prefix}.pid`))).toBe(true);
    expect(existsSync(join(dir, "hosts", "host-2", "host.json"))).toBe(true);

    const hosts = JSON.parse((await cli(["hosts", ...common, "--json"])).stdout) as Array<{
      id: string;
      state: string;
      domains: number;
    }>;
    expect(hosts.map((h) => [h.id, h.state, h.domains])).toEqual([
      ["host-1", "up", 2],
      ["host-2", "up", 2],
    ]);

    const domains = JSON.parse((await cli(["domains", ...common, "--json"])).stdout) as Array<Record<string, unknown>>;
    expect(domains).toHaveLength(4);
    for (const d of domains) {
      expect(Object.keys(d).sort()).toEqual(["host", "memory", "name", "state", "uuid"]);
      expect(d).toMatchObject({ state: "running", memory: 8 * 2 ** 20 });
    }

    const batch = await cli(["batch-save", ...common, "--wait", "--json"]);
    expect(batch.code, batch.stderr + batch.stdout).toBe(0);
    const report = JSON.parse(batch.stdout) as Record<string, number>;
    expect(report).toMatchObject({ saved: 4, failed: 0 });
    expect(report.bytesTotal).toBeGreaterThan(4 * 8 * 2 ** 20);
    for (const key of ["bytesNew", "seconds"]) expect(typeof report[key]).toBe("number");

    // The hosts filter travels in the batch's payload: only host-2's two domains are saved.
    const some = await cli(["batch-save", ...common, "--hosts", "host-2", "--wait", "--json"]);
    expect(some.code, some.stderr + some.stdout).toBe(0);
    expect(JSON.parse(some.stdout)).toMatchObject({ saved: 2, failed: 0 });
    conn = redis();
    const controller = queue(conn, prefix, CONTROLLER_QUEUE);
    const batches = await controller.getJobs(["completed"]);
    await controller.close();
    expect(batches.map((j) => (j.data as { hosts?: string[] }).hosts ?? "all").sort()).toEqual(["all", ["host-2"]]);

    const one = await cli(["save", ...common, "host-2", "host-2-vm-1", "--wait", "--json"]);
    expect(JSON.parse(one.stdout)).toMatchObject({
      saved: 1,
      failed: 0,
      imageId: expect.stringMatching(/^[0-9a-f]{64}$/),
    });

    const unknown = await cli(["save", ...common, "host-2", "no-such-vm", "--json"]);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/reports no domain/) },
    });

    const status = JSON.parse((await cli(["status", ...common, "--json"])).stdout) as {
      hosts: unknown[];
      batches: Array<{ state: string }>;
    };
    expect(status.hosts).toHaveLength(2);
    expect(status.batches[0]).toMatchObject({ state: "completed" });

    const down = await cli(["down", ...common, "--state-dir", dir]);
    expect(down.code).toBe(0);
    expect(existsSync(join(dir, `up-${prefix}.pid`))).toBe(false);
    // The save workers deregistered on their way out: both hosts are down at once.
    const after = JSON.parse((await cli(["hosts", ...common, "--json"])).stdout) as Array<{ state: string }>;
    expect(after.map((h) => h.state)).toEqual(["down", "down"]);
  });
});

describe("xenfleet demo", () => {
  it("saves every domain twice, the second time incrementally, and cleans up after itself", async () => {
    const dir = tempDir();
    try {
      const demo = await cli([
        "demo",
        "--redis",
        REDIS_URL,
        "--state-dir",
        dir,
        "--hosts",
        "2",
        "--domains",
        "2",
        "--memory",
        "16M",
        "--pause",
        "1",
        "--json",
      ]);
      expect(demo.code, demo.stderr).toBe(0);
      const result = JSON.parse(demo.stdout) as {
        domains: number;
        batches: Array<{ saved: number; failed: number; bytesTotal: number; bytesNew: number }>;
      };
      expect(result.domains).toBe(4);
      expect(result.batches).toHaveLength(2);
      const [first, second] = result.batches;
      expect(first).toMatchObject({ saved: 4, failed: 0 });
      expect(second).toMatchObject({ saved: 4, failed: 0 });
      expect(second!.bytesNew).toBeLessThan(first!.bytesNew / 5);
      expect(demo.stderr).toMatch(/stopping the fleet/);
      expect(existsSync(join(dir, "demo"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

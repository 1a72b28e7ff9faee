/**
 * The CLI against a fleet it started itself: `xenfleet up --detach` (a
 * supervisor and its service processes in the background), the inventory
 * and work commands with --json, `down`; and `xenfleet demo` end to end.
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CONTROLLER_QUEUE, type RedisClient } from "@xenfleet/jobs";
import { cli, deletePrefix, fileUrl, queue, redis, REDIS_URL, tempDir, testPrefix } from "./helpers.js";

describe("xenfleet up, the fleet commands, down", () => {
  const prefix = testPrefix();
  const dir = tempDir();
  // Each command takes only the options it uses: --store only where work names a store.
  const fleet = ["--redis", REDIS_URL, "--prefix", prefix];
  const store = ["--store", fileUrl(join(dir, "store"))];
  const common = [...fleet, ...store];
  // The CLI knows the fleet's store as the workers do (XENFLEET_STORE, so "main"): fleet commands given
  // its location send its name.
  const fleetCli = (args: string[]) => cli(args, { XENFLEET_STORE: fileUrl(join(dir, "store")) });
  let conn: RedisClient | undefined;

  afterAll(async () => {
    // Stop the fleet even when a test failed half way.
    if (existsSync(join(dir, `up-${prefix}.pid`))) await fleetCli(["down", "--prefix", prefix, "--state-dir", dir]);
    conn ??= redis();
    await deletePrefix(conn, prefix);
    await conn.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it("brings up sim hosts in the background, lists them, saves, and shuts down", async () => {
    const up = await fleetCli([
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

    const { hosts } = JSON.parse((await fleetCli(["hosts", ...fleet, "--json"])).stdout) as {
      hosts: Array<{ host: string; state: string; domains: number }>;
    };
    expect(hosts.map((h) => [h.host, h.state, h.domains])).toEqual([
      ["host-1", "up", 2],
      ["host-2", "up", 2],
    ]);

    const { domains } = JSON.parse((await fleetCli(["domains", ...fleet, "--json"])).stdout) as {
      domains: Array<Record<string, unknown>>;
    };
    expect(domains).toHaveLength(4);
    for (const d of domains) {
      expect(Object.keys(d).sort()).toEqual(["domain", "host", "memory", "state", "uuid"]);
      expect(d).toMatchObject({ state: "running", memory: 8 * 2 ** 20 });
    }

    const batch = await fleetCli(["batch-save", ...common, "--wait", "--json"]);
    expect(batch.code, batch.stderr + batch.stdout).toBe(0);
    const report = JSON.parse(batch.stdout) as Record<string, number>;
    expect(report).toMatchObject({ ok: true, saved: 4, failed: 0 });
    expect(report.bytesTotal).toBeGreaterThan(4 * 8 * 2 ** 20);
    for (const key of ["bytesNew", "seconds"]) expect(typeof report[key]).toBe("number");

    // The hosts filter travels in the batch's payload: only host-2's two domains are saved.
    const some = await fleetCli(["batch-save", ...common, "--hosts", "host-2", "--wait", "--json"]);
    expect(some.code, some.stderr + some.stdout).toBe(0);
    expect(JSON.parse(some.stdout)).toMatchObject({ saved: 2, failed: 0 });
    conn = redis();
    const controller = queue(conn, prefix, CONTROLLER_QUEUE);
    const batches = await controller.getJobs(["completed"]);
    await controller.close();
    expect(batches.map((j) => (j.data as { hosts?: string[] }).hosts ?? "all").sort()).toEqual(["all", ["host-2"]]);

    const one = await fleetCli(["save", ...common, "host-2", "host-2-vm-1", "--label", "adhoc", "--wait", "--json"]);
    const saved = JSON.parse(one.stdout) as { imageId: string; uuid: string };
    expect(saved).toMatchObject({
      ok: true,
      saved: 1,
      failed: 0,
      host: "host-2",
      domain: "host-2-vm-1",
      imageId: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // Not a terminal: one line per state change on stderr.
    expect(one.stderr).toMatch(/save of host-2-vm-1 on host-2: completed/);

    // The image is listed under the domain's name, with its host, labels and new bytes.
    const listed = JSON.parse(
      (await fleetCli(["image", "ls", "--domain", "host-2-vm-1", "--label", "adhoc", ...store, "--json"])).stdout,
    ) as { images: Array<Record<string, unknown>> };
    expect(listed.images).toEqual([
      expect.objectContaining({
        imageId: saved.imageId,
        domain: "host-2-vm-1",
        uuid: saved.uuid,
        host: "host-2",
        labels: ["adhoc"],
        bytesNew: expect.any(Number),
      }),
    ]);

    const unknown = await fleetCli(["save", ...common, "host-2", "no-such-vm", "--json"]);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout)).toMatchObject({
      ok: false,
      error: { code: "XF_CLI_NOT_FOUND", message: expect.stringMatching(/reports no domain/) },
    });

    // A restore followed to its end: its progress, one line per state, then the result. The domain still
    // runs on host-2, so this is a copy, with its own uuid.
    const restored = await fleetCli([
      "restore",
      ...common,
      saved.imageId.slice(0, 12),
      "--host",
      "host-1",
      "--name",
      "copy",
      "--new-uuid",
      "--paused",
      "--wait",
      "--json",
    ]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({
      ok: true,
      host: "host-1",
      domain: "copy",
      imageId: saved.imageId,
    });
    expect(restored.stderr).toMatch(/restore of [0-9a-f]{12} on host-1: completed/);

    const status = JSON.parse((await fleetCli(["status", ...fleet, "--json"])).stdout) as {
      ok: boolean;
      hosts: unknown[];
      batches: Array<{ state: string }>;
    };
    expect(status.ok).toBe(true);
    expect(status.hosts).toHaveLength(2);
    expect(status.batches[0]).toMatchObject({ state: "completed" });

    const down = await fleetCli(["down", "--prefix", prefix, "--state-dir", dir]);
    expect(down.code).toBe(0);
    expect(existsSync(join(dir, `up-${prefix}.pid`))).toBe(false);
    // The save workers deregistered on their way out: both hosts are down at once.
    const after = JSON.parse((await fleetCli(["hosts", ...fleet, "--json"])).stdout) as {
      hosts: Array<{ state: string }>;
    };
    expect(after.hosts.map((h) => h.state)).toEqual(["down", "down"]);
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
        "1s",
        "--json",
      ]);
      expect(demo.code, demo.stderr).toBe(0);
      const result = JSON.parse(demo.stdout) as {
        ok: boolean;
        domains: number;
        batches: Array<{ saved: number; failed: number; bytesTotal: number; bytesNew: number }>;
      };
      expect(result.ok).toBe(true);
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

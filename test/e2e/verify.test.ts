/**
 * Verify runs and health checks through the services and the CLI: the
 * controller, a compress worker and host-1's save and restore workers as
 * processes, against the real Redis. `verify-all --wait` verifies every
 * image on the compress worker and the controller's /metrics shows the
 * gauges; `image health-check` passes on a good image and fails on a
 * corrupted one, and the copy is gone after both; `image ls` shows both
 * records.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { keys, loadBlock, loadManifest, type Sha256Id } from "@xenfleet/image";
import { listHosts } from "@xenfleet/jobs";
import { openStore } from "@xenfleet/store";
import { saveDomain } from "@xenfleet/transfer";
import type { RedisClient } from "@xenfleet/jobs";
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

describe("verify runs and health checks, as separate processes", () => {
  const prefix = testPrefix();
  const dir = tempDir();
  const storeUrl = fileUrl(join(dir, "store"));
  const simDir = join(dir, "hosts", "host-1");
  const metricsPort = 20_000 + Math.floor(Math.random() * 40_000);
  const env = { XENFLEET_REDIS: REDIS_URL, XENFLEET_PREFIX: prefix, XENFLEET_STORE: storeUrl };
  const procs: Proc[] = [];
  const images: Sha256Id[] = [];
  const originals: string[] = [];
  let conn: RedisClient;

  beforeAll(async () => {
    conn = redis();
    // Four domains, each saved once, before the workers open the host.
    const host = await SimHost.open(simDir, { name: "host-1", totalMemoryBytes: 256 * MiB });
    const store = await openStore(storeUrl, {});
    try {
      for (let i = 0; i < 4; i++) {
        const d = await host.createDomain({
          name: `vm-${i}`,
          type: i % 2 ? "hvm" : "pv",
          memoryBytes: 4 * MiB,
          seed: i,
        });
        originals.push(d.uuid);
        images.push(
          (await saveDomain({ hypervisor: host, store, domain: d.uuid, mode: "checkpoint", host: "host-1" }))
            .imageId as Sha256Id,
        );
      }
    } finally {
      await store.close();
    }
    procs.push(
      start("controller", nodeArgs("controller"), { ...env, XENFLEET_METRICS_PORT: String(metricsPort) }, dir),
    );
    procs.push(start("compress", nodeArgs("compress-worker"), { ...env, XENFLEET_METRICS_PORT: "0" }, dir));
    const hostEnv = {
      ...env,
      XENFLEET_HOST: "host-1",
      XENFLEET_SIM_DIR: simDir,
      XENFLEET_HEARTBEAT_MS: "1000",
      XENFLEET_HOST_ADDRESS: "127.0.0.1",
      XENFLEET_METRICS_PORT: "0",
    };
    procs.push(start("host-1-save", nodeArgs("save-worker"), hostEnv, dir));
    procs.push(start("host-1-restore", nodeArgs("restore-worker"), hostEnv, dir));
    await until(
      "host-1 to report up",
      async () =>
        (await listHosts(conn, prefix)).some((h) => h.id === "host-1" && h.state === "up") ? true : undefined,
      90_000,
    );
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => stop(p)));
    await deletePrefix(conn, prefix);
    await conn.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (args: string[]) => cli([...args, "--prefix", prefix, "--json"], env);
  const gauge = async (name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const m = new RegExp(`^${name}\\{[^}]*store="main"[^}]*\\} (\\d+)$`, "m").exec(text);
    return m === null ? undefined : Number(m[1]);
  };
  /** host-1 runs its four domains and nothing else: no health check copy is left. */
  const onlyOriginals = async () =>
    expect((await (await SimHost.open(simDir)).listDomains()).map((d) => d.uuid).sort()).toEqual([...originals].sort());

  it("verify-all verifies every image on the compress worker; the controller's gauges say none is unverified or broken", async () => {
    const r = await run(["verify-all", "--outdated-after", "30d", "--wait"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      images: 4,
      verified: 4,
      skippedRecent: 0,
      broken: [],
      unverified: 0,
      brokenTotal: 0,
    });
    expect(await gauge("xenfleet_images_unverified")).toBe(0);
    expect(await gauge("xenfleet_images_broken")).toBe(0);
    // Within the window now: a second run skips them all.
    const again = JSON.parse((await run(["verify-all", "--outdated-after", "30d", "--wait"])).stdout);
    expect(again).toMatchObject({ images: 4, verified: 0, skippedRecent: 4 });
  });

  it("a health check passes on a good image and fails on a corrupted one, destroying the copy both times", async () => {
    const good = await run(["image", "health-check", images[0]!, "--host", "host-1", "--deadline", "2m"]);
    expect(good.code, good.stderr + good.stdout).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, passed: true, digest: "matched", host: "host-1" });
    await onlyOriginals();

    // A byte flipped in the one pack of another image.
    const bad = images[1]!;
    const store = await openStore(storeUrl, {});
    try {
      const block = (await loadManifest(store, bad)).blocks[0]!;
      const pack = keys.packKey((await loadBlock(store, bad, block.id)).packs[0]!);
      const bytes = Buffer.from(await store.get(pack));
      bytes[16 + 4096 * 5 + 3]! ^= 0x08;
      await store.delete(pack);
      await store.put(pack, bytes);
    } finally {
      await store.close();
    }
    const failed = await run(["image", "health-check", bad, "--host", "host-1"]);
    expect(failed.code, failed.stderr + failed.stdout).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({
      ok: false,
      passed: false,
      reason: expect.stringMatching(/corrupt/i),
    });
    await onlyOriginals();

    const { images: listed } = JSON.parse((await cli(["image", "ls", "--json", "--store", storeUrl])).stdout) as {
      images: Array<{ imageId: string; healthCheck: { passed: boolean; host: string } | null }>;
    };
    const health = (id: string) => listed.find((i) => i.imageId === id)?.healthCheck;
    expect(health(images[0]!)).toMatchObject({ passed: true, host: "host-1" });
    expect(health(bad)).toMatchObject({ passed: false });
    expect(health(images[2]!)).toBeNull();

    // A verify run without a window finds the corrupt pack; the gauges follow.
    const verify = await run(["verify-all", "--wait"]);
    expect(verify.code).toBe(1);
    const report = JSON.parse(verify.stdout);
    expect(report).toMatchObject({ ok: false, verified: 4, brokenTotal: 1 });
    expect(report.broken.map((b: { imageId: string }) => b.imageId)).toEqual([bad]);
    expect(await gauge("xenfleet_images_broken")).toBe(1);
  });

  it("a verify run with a health check host also health-checks each domain's newest image there", async () => {
    const r = await run(["verify-all", "--outdated-after", "30d", "--health-check-host", "host-1", "--wait"]);
    // The corrupt image fails its health check (its pack was moved aside), so the run exits 1.
    expect(r.code, r.stderr + r.stdout).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: false, images: 4, verified: 0, skippedRecent: 4, brokenTotal: 1 });
    expect(report.healthChecks.passed).toBe(3);
    expect(report.healthChecks.failed).toEqual([{ imageId: images[1], reason: expect.any(String) }]);
    await onlyOriginals();
  });
});

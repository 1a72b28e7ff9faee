/**
 * A verify run end to end against the real Redis and BullMQ: the
 * controller's verify-run handler and the compress workers' verify handler
 * in workers of their own, over a store of 20 saved images. Images
 * verified within the window are skipped, one verified long ago is
 * verified again, a corrupted one is reported broken with its object, and
 * the gauges say how many images are unverified and broken.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poll } from "@xenfleet/core";
import { SimHost } from "@xenfleet/hypervisor";
import { keys, loadBlock, loadManifest, readVerification, verifyAndRecord, type Sha256Id } from "@xenfleet/image";
import {
  bullPrefix,
  COMPRESS_QUEUE,
  CONTROLLER_QUEUE,
  createLogger,
  createMetrics,
  createRedis,
  createVerifyGauges,
  parseResult,
  runWorker,
  type WorkerHandle,
} from "@xenfleet/jobs";
import { deletePrefix, REDIS_URL, testPrefix } from "@xenfleet/jobs/testing";
import { openStore, type ObjectStore } from "@xenfleet/store";
import { saveDomain } from "@xenfleet/transfer";
import type { RedisClient } from "@xenfleet/jobs";
import {
  removeSchedule,
  scheduleVerify,
  startVerifyRun,
  Stores,
  verifyCounts,
  verifyHandler,
  verifyRunHandler,
  waitForVerifyRun,
} from "../../src/index.js";

const MiB = 2 ** 20;
const DAY = 86_400;
const logger = createLogger({ service: "test", level: "silent" });

describe("verify run", () => {
  let dir: string;
  let store: ObjectStore;
  let stores: Stores;
  let redis: RedisClient;
  const prefix = testPrefix("xfverify");
  // A registry as the controller has (its gauges are set by the run).
  const registry = createMetrics({ processMetrics: false }).registry;
  const handles: WorkerHandle[] = [];
  const images: Sha256Id[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "xenfleet-verify-run-"));
    const url = pathToFileURL(join(dir, "store")).href;
    const host = await SimHost.open(join(dir, "host"), { name: "h", totalMemoryBytes: 64 * MiB });
    store = await openStore(url, {});
    for (let i = 0; i < 20; i++) {
      const d = await host.createDomain({ name: `vm-${i}`, type: "pv", memoryBytes: MiB, seed: 100 + i });
      images.push(
        (await saveDomain({ hypervisor: host, store, domain: d.uuid, mode: "checkpoint" })).imageId as Sha256Id,
      );
    }
    images.sort();
    stores = new Stores({ XENFLEET_STORES: `main=${url}` });
    redis = createRedis(REDIS_URL, "producer", "verify-run-test");
    const worker = (queue: string, handlers: Parameters<typeof runWorker>[0]["handlers"]) =>
      handles.push(
        runWorker({
          queue,
          connection: createRedis(REDIS_URL, "worker", queue),
          prefix,
          logger,
          handlers,
          concurrency: 4,
        }),
      );
    worker(CONTROLLER_QUEUE, {
      "verify-run": verifyRunHandler({ redis, prefix, stores, onCounts: createVerifyGauges(registry) }),
    });
    worker(COMPRESS_QUEUE, { verify: verifyHandler(stores) });
  });

  afterAll(async () => {
    await Promise.all(handles.map((h) => h.stop()));
    await deletePrefix(redis, prefix);
    await redis.quit();
    await stores.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("skips images verified within the window, verifies the rest on the compress queue, and reports the broken one", async () => {
    // Five verified just now (within the window), one 40 days ago (outside it).
    const recent = images.slice(0, 5);
    for (const id of recent) expect((await verifyAndRecord(store, id)).ok).toBe(true);
    const old = images[5]!;
    const stale = { at: new Date(Date.now() - 40 * DAY * 1000).toISOString(), ok: true, bytes: 1, seconds: 1 };
    await store.putRef(`verified/${old}`, Buffer.from(JSON.stringify(stale)));
    expect(await verifyCounts(store, Date.now(), 30 * DAY)).toEqual({ unverified: 15, broken: 0 });

    // A byte flipped in the one pack of an image not verified within the window.
    const victim = images[10]!;
    const block = (await loadManifest(store, victim)).blocks[0]!;
    const pack = (await loadBlock(store, victim, block.id)).packs[0]!;
    const bytes = Buffer.from(await store.get(keys.packKey(pack)));
    bytes[16 + 4096 * 2 + 5]! ^= 0x40;
    await store.delete(keys.packKey(pack));
    await store.put(keys.packKey(pack), bytes);

    const { jobId } = await startVerifyRun(redis, prefix, { store: "main", outdatedAfterSeconds: 30 * DAY });
    const done = await waitForVerifyRun(redis, prefix, jobId);
    expect(done.error).toBeUndefined();
    const report = done.report!;
    expect(report).toMatchObject({ images: 20, skippedRecent: 5, verified: 15, intact: 14, failed: [] });
    expect(report.broken).toEqual([
      { imageId: victim, key: keys.packKey(pack), reason: expect.stringMatching(/^corrupt \(moved aside\)/) },
    ]);
    expect(report).toMatchObject({ unverified: 0, brokenTotal: 1 });

    // The records: the old one renewed, the broken one recorded broken, the recent ones untouched.
    expect(Date.parse((await readVerification(store, old))!.at)).toBeGreaterThan(Date.parse(stale.at));
    expect(await readVerification(store, victim)).toMatchObject({ ok: false, problem: { key: keys.packKey(pack) } });

    const metrics = await registry.metrics();
    expect(metrics).toMatch(/^xenfleet_images_unverified\{store="main"\} 0$/m);
    expect(metrics).toMatch(/^xenfleet_images_broken\{store="main"\} 1$/m);
  });

  it("with a subset, reads a slice of each image's packs and records which", async () => {
    // No window: every image again, each pack read (1/1 is every pack), the broken image still broken.
    const { jobId } = await startVerifyRun(redis, prefix, { store: "main", subset: { n: 1, of: 1 } });
    const report = (await waitForVerifyRun(redis, prefix, jobId)).report!;
    expect(report).toMatchObject({
      images: 20,
      skippedRecent: 0,
      verified: 20,
      intact: 19,
      unverified: 0,
      brokenTotal: 1,
    });
    expect(report.broken).toHaveLength(1);
    expect(report.broken[0]!.reason).toMatch(/damaged|missing/);
    expect(await readVerification(store, images[0]!)).toMatchObject({ ok: true, subset: "1/1" });
  });

  it("runs from its schedule, under a run id of its own, skipping what the last runs verified", async () => {
    await scheduleVerify(redis, prefix, { everyMs: 60_000, now: true }, { store: "main", outdatedAfterSeconds: DAY });
    const controller = new Queue(CONTROLLER_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
    try {
      const job = await poll(
        "the scheduled verify run to finish",
        async () =>
          (await controller.getJobs(["completed", "failed"])).find(
            (j) => j?.name === "verify-run" && j.repeatJobKey !== undefined,
          ),
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(job.failedReason).toBeUndefined();
      const report = parseResult("verify-run", job.returnvalue);
      expect(report.runId).toMatch(/^verify-\d+$/);
      // Every image was verified by the runs before, within the day.
      expect(report).toMatchObject({ images: 20, skippedRecent: 20, verified: 0, unverified: 0, brokenTotal: 1 });
    } finally {
      expect(await removeSchedule(redis, prefix, "verify")).toBe(true);
      await controller.close();
    }
  });
});

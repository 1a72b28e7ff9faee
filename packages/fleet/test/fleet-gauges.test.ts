/**
 * The fleet's gauges against the real Redis (a prefix of its own) and a
 * filesystem store holding one saved domain: hosts by state, queue depth
 * and the oldest waiting job's age, each domain's last good image; the
 * scrape passes `promtool check metrics` (Prometheus naming and format).
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Queue } from "bullmq";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { bullPrefix, COMPRESS_QUEUE, heartbeat, keys, markDraining } from "@xenfleet/jobs";
import { testRedis } from "@xenfleet/jobs/testing";
import { openStore } from "@xenfleet/store";
import { saveDomain } from "@xenfleet/transfer";
import { registerFleetGauges, Stores } from "../src/index.js";

const MiB = 2 ** 20;
const PROMTOOL = "/usr/bin/promtool";

describe("fleet gauges", () => {
  const t = testRedis("producer", "xfgauge");
  let dir: string;
  let stores: Stores;
  let saved: { uuid: string; created: number; streamBytes: number };
  let storedBytes = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "xenfleet-gauges-"));
    const url = pathToFileURL(join(dir, "store")).href;
    const host = await SimHost.open(join(dir, "host"), { name: "host-1", totalMemoryBytes: 64 * MiB });
    const domain = await host.createDomain({ name: "web", type: "pv", memoryBytes: 4 * MiB, seed: 3 });
    const store = await openStore(url, {});
    try {
      const before = Date.now();
      const result = await saveDomain({ hypervisor: host, store, domain: domain.uuid, mode: "checkpoint" });
      saved = { uuid: domain.uuid, created: before, streamBytes: result.bytesTotal };
      for await (const object of store.list("")) storedBytes += object.size;
    } finally {
      await store.close();
    }
    stores = new Stores({ XENFLEET_STORE: url });
    const info = (id: string) => ({
      v: 1 as const,
      id,
      address: "127.0.0.1",
      memoryTotal: 64 * MiB,
      memoryFree: 32 * MiB,
      tags: [],
      domains: [],
    });
    for (const id of ["host-1", "host-2", "host-3"]) await heartbeat(t.redis, t.prefix, info(id), 60_000);
    await markDraining(t.redis, t.prefix, "host-2");
    // host-3's heartbeat lapses.
    await t.redis.del(keys.alive(t.prefix, "host-3"));
    const compress = new Queue(COMPRESS_QUEUE, { connection: t.redis, prefix: bullPrefix(t.prefix) });
    await compress.add("compress", {}, { timestamp: Date.now() - 90_000 });
    await compress.add("compress", {});
    await compress.close();
  });

  afterAll(async () => {
    await stores?.close();
    await t.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it("reads hosts and queues at each scrape and last good images from the stores, in Prometheus's format", async () => {
    const registry = new Registry();
    registerFleetGauges(registry, { redis: t.redis, prefix: t.prefix, stores });
    const text = await registry.metrics();
    expect(text).toContain('xenfleet_hosts{state="up"} 1');
    expect(text).toContain('xenfleet_hosts{state="draining"} 1');
    expect(text).toContain('xenfleet_hosts{state="down"} 1');
    expect(text).toContain('xenfleet_queue_waiting_jobs{queue="compress"} 2');
    expect(text).toContain('xenfleet_queue_waiting_jobs{queue="save@host-1"} 0');
    const oldest = /xenfleet_queue_oldest_waiting_job_age_seconds\{queue="compress"\} ([\d.]+)/.exec(text);
    expect(Number(oldest?.[1])).toBeGreaterThanOrEqual(90);
    const good = new RegExp(
      `xenfleet_domain_last_good_image_timestamp_seconds\\{domain="web",uuid="${saved.uuid}"\\} ([\\d.]+)`,
    ).exec(text);
    expect(Number(good?.[1])).toBeGreaterThanOrEqual(Math.floor(saved.created / 1000));
    // The store's size is every object in it; its images reproduce their whole streams.
    expect(text).toContain(`xenfleet_store_size_bytes{store="main"} ${storedBytes}`);
    expect(text).toContain(`xenfleet_store_image_bytes{store="main"} ${saved.streamBytes}`);
    const ratio = /xenfleet_store_dedup_ratio\{store="main"\} ([\d.e+-]+)/.exec(text);
    expect(Number(ratio?.[1])).toBeCloseTo(saved.streamBytes / storedBytes, 6);
    const check = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });
});

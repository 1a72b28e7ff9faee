/**
 * Live migration of a simulated domain (default 1 GiB) between two sim hosts
 * over loopback TCP, through the real wire (framing, checksums, compression)
 * and the real rendezvous in Redis, at several dirty rates, with and without
 * compression. Each run moves the domain to the other host. Prints one JSON
 * line: per run downtime (source paused until the target runs), total time,
 * bytes on the wire, iterations, and whether the 300 ms downtime target at
 * 10 MiB/s held.
 *
 *   npm run bench -- migrate-live [--memory 1G] [--rates 0,10,50] [--compress none,lz4,zstd] [--redis URL]
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SimHost } from "@xenfleet/hypervisor";
import { parseSize } from "@xenfleet/core";
import { createRedis, keys, scanKeys } from "@xenfleet/jobs";
import { MigrationRecord, receiveLive, sendLive } from "@xenfleet/migration";
import type { Compression } from "@xenfleet/store";

const { values } = parseArgs({
  options: {
    memory: { type: "string", default: "1G" },
    rates: { type: "string", default: "0,10,50" },
    compress: { type: "string", default: "none,lz4" },
    redis: { type: "string", default: process.env.XENFLEET_REDIS ?? "redis://127.0.0.1:6379" },
  },
});
const memoryBytes = parseSize(values.memory);
const ratesMiB = values.rates.split(",").map(Number);
const compressions = values.compress.split(",") as Compression[];
const PAGE = 4096;

const dir = await mkdtemp(join(tmpdir(), "xf-bench-mig-"));
const redis = createRedis(values.redis, "worker", "xenfleet-bench");
const prefix = `bench-${randomBytes(4).toString("hex")}`;
try {
  const hosts = [await SimHost.open(join(dir, "a")), await SimHost.open(join(dir, "b"))];
  const dom = await hosts[0]!.createDomain({ name: "bench", type: "hvm", memoryBytes });
  let at = 0;
  const runs: Array<{ dirtyMiBps: number; downtimeMs: number } & Record<string, unknown>> = [];
  for (const rate of ratesMiB) {
    for (const compression of compressions) {
      const src = hosts[at]!;
      const dst = hosts[1 - at]!;
      await src.setDirtyRate(dom.uuid, Math.round((rate * 2 ** 20) / PAGE));
      const record = new MigrationRecord(redis, prefix, `run-${runs.length}`);
      const t0 = performance.now();
      const [sent] = await Promise.all([
        sendLive({ hypervisor: src, record, domain: dom.uuid, compression }),
        receiveLive({
          hypervisor: dst,
          record,
          domainUuid: dom.uuid,
          bind: { host: "127.0.0.1", port: 0 },
          advertise: "127.0.0.1",
        }),
      ]);
      const totalMs = performance.now() - t0;
      runs.push({
        dirtyMiBps: rate,
        compression,
        // The sim reports when it paused: both are measured here.
        downtimeMs: Math.round(sent.downtimeMs! * 10) / 10,
        finalPassMs: Math.round(sent.finalPassMs! * 10) / 10,
        totalMs: Math.round(totalMs),
        bytesSent: sent.bytesSent,
        rawBytes: sent.rawBytes,
        compressionRatio: Math.round(sent.compressionRatio * 100) / 100,
        iterations: sent.iterations,
        stopReason: sent.stopReason,
      });
      await dst.setDirtyRate(dom.uuid, 0);
      at = 1 - at;
    }
  }
  const target = runs.filter((r) => r.dirtyMiBps === 10);
  console.log(
    JSON.stringify({
      bench: "migrate-live",
      memoryBytes,
      link: "loopback, unthrottled",
      runs,
      target: { downtimeMsAt10MiBps: 300, met: target.length > 0 && target.every((r) => r.downtimeMs <= 300) },
    }),
  );
} finally {
  for await (const found of scanKeys(redis, keys.all(prefix))) await redis.del(...found);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
}

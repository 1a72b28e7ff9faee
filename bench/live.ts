/**
 * Live pre-copy of a simulated domain (default 1 GiB) at several dirty rates,
 * into a null sink and into a throttled one (a network link), with the
 * default stop policy (LIVE_DEFAULTS). For each run: passes, pages per pass,
 * bytes, downtime; and the ratio of live downtime to a checkpoint save's
 * downtime (whole memory sent while paused) into the same sink, measured in
 * the same run.
 *
 *   npm run bench -- live [--memory 1G] [--rates 0,1,10,50] [--throttle 256M]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { LIVE_DEFAULTS, SimHost, type SaveMode } from "@xenfleet/hypervisor";
import { parseSize } from "@xenfleet/core";

const { values } = parseArgs({
  options: {
    memory: { type: "string", default: "1G" },
    rates: { type: "string", default: "0,1,10,50" },
    throttle: { type: "string", default: "256M" },
  },
});
const memoryBytes = parseSize(values.memory);
const ratesMiB = values.rates.split(",").map(Number);
const throttle = parseSize(values.throttle);

function nullSink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** Accepts `bytesPerSec`, waiting per chunk like a link would. */
function throttledSink(bytesPerSec: number): Writable {
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _e, cb) {
      setTimeout(cb, (chunk.length / bytesPerSec) * 1000);
    },
  });
}

const dir = await mkdtemp(join(tmpdir(), "xenfleet-bench-live-"));
try {
  const host = await SimHost.open(dir, { recordSaveDigest: false, totalMemoryBytes: 2 ** 44 });
  const created = performance.now();
  const d = await host.createDomain({ name: "bench", type: "hvm", memoryBytes, vcpus: 2, seed: 1, paused: true });
  const createMs = performance.now() - created;

  const sinks = { null: nullSink, throttled: () => throttledSink(throttle) };
  const save = async (sink: keyof typeof sinks, mode: SaveMode, rateMiB: number) => {
    await host.setDirtyRate(d.uuid, rateMiB * 256);
    await host.unpause(d.uuid);
    const r = await host.save(d.uuid, sinks[sink](), { mode });
    await host.pause(d.uuid);
    return r;
  };

  const runs = [];
  for (const sink of Object.keys(sinks) as Array<keyof typeof sinks>) {
    const baseline = await save(sink, "checkpoint", 0);
    for (const rate of ratesMiB) {
      const r = await save(sink, "live", rate);
      runs.push({
        sink,
        dirtyMiBps: rate,
        iterations: r.iterations,
        pagesPerIteration: r.pagesPerIteration,
        bytes: r.bytesWritten,
        downtimeMs: round(r.downtimeMs!),
        durationMs: round(r.durationMs),
        stopReason: r.stopReason,
        downtimeVsCheckpoint: round(r.downtimeMs! / baseline.downtimeMs!, 4),
        checkpointDowntimeMs: round(baseline.downtimeMs!),
      });
    }
  }
  console.log(
    JSON.stringify({
      bench: "live",
      memoryBytes,
      throttleBytesPerSec: throttle,
      policy: LIVE_DEFAULTS,
      createMs: round(createMs),
      runs,
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * `xenfleet demo`: the whole story on one machine. Bring up an embedded fleet
 * (fresh sim hosts and store under <state-dir>/demo, its own Redis prefix,
 * the local Redis started when none answers),
 * run the nightly batch save twice (the second only stores the pages that
 * changed in between), wait for compression, print what happened, and shut
 * everything down, leaving no keys behind in Redis.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Queue } from "bullmq";
import type { Command } from "commander";
import { formatDuration, formatSize, sleep } from "@xenfleet/core";
import { EMBEDDED_STORE, startBatch, waitForBatch, withSkipped, type BatchReport } from "@xenfleet/fleet";
import { bullPrefix, COMPRESS_QUEUE, DEFAULT_PREFIX, keys, scanKeys, type RedisClient } from "@xenfleet/jobs";
import { DEFAULT_STORE_PATH } from "@xenfleet/store";
import { durationOption } from "../args.js";
import { WorkFailedError } from "../errors.js";
import { emit, table } from "../output.js";
import { addEmbeddedOptions, embeddedFleet } from "./up.js";
import { registeredServices, startEmbeddedFleet, waitForHosts } from "./embedded-fleet.js";
import { withRedis } from "./fleet-options.js";
import { fromBatch, reportText } from "./fleet-report.js";
import { ensureRedis } from "./local-redis.js";
import { dashboardChoice, dashboardLine, startFleetDashboard } from "./dashboard.js";

export function registerDemoCommand(program: Command): void {
  addEmbeddedOptions(program.command("demo"), { hosts: 3, domains: 4, memory: "64M", dirtyRate: 100 })
    .description(
      "Bring up an embedded fleet, run the nightly batch save twice (the second incremental), report, shut down",
    )
    .addOption(
      durationOption("--pause <duration>", "time between the two batches, while the domains write memory", "5s"),
    )
    .option("--keep", "keep the demo's sim hosts and store afterwards")
    .option("--json", "print the result as one JSON document")
    .action(async (opts) => {
      const log = (line: string) => process.stderr.write(`demo: ${line}\n`);
      const demoDir = join(opts.stateDir as string, "demo");
      rmSync(demoDir, { recursive: true, force: true });
      const prefix =
        opts.prefix === DEFAULT_PREFIX ? `demo-${randomBytes(4).toString("hex")}` : (opts.prefix as string);
      const store =
        process.env.XENFLEET_STORE === undefined && opts.store === DEFAULT_STORE_PATH
          ? pathToFileURL(resolve(demoDir, "store")).href
          : (opts.store as string);
      const fleet = embeddedFleet({ ...opts, prefix, store, stateDir: demoDir, logLevel: "warn" });
      await ensureRedis(fleet.redis, opts.stateDir as string, log);
      log(
        `creating ${fleet.hosts} sim hosts x ${fleet.domains} domains of ${formatSize(fleet.domainMemoryBytes)}, prefix ${prefix}`,
      );
      const running = await startEmbeddedFleet(fleet, log);
      const dashboard = dashboardChoice(opts);
      let served: Awaited<ReturnType<typeof startFleetDashboard>> | undefined;
      const batches: BatchReport[] = [];
      // Ctrl-C or SIGTERM ends the demo early, still stopping the fleet cleanly.
      const interrupted = new AbortController();
      const onSignal = () => interrupted.abort(new WorkFailedError("interrupted"));
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      const signal = interrupted.signal;
      try {
        await withRedis(fleet, async (redis) => {
          await waitForHosts(redis, prefix, fleet.hosts, 120_000, signal);
          const services = await registeredServices(redis, prefix, running.services, 30_000, signal);
          const controller = services.find((s) => s.service === "controller")?.metricsUrl;
          log(
            `fleet up; ${services.filter((s) => s.metricsUrl).length} services serve metrics${controller ? ` (the controller's: ${controller}; xenfleet status --prefix ${prefix} lists them all)` : ""}`,
          );
          if (dashboard !== undefined) {
            served = await startFleetDashboard(fleet, dashboard);
            log(dashboardLine(served.url, dashboard));
          }
          for (let n = 1; n <= 2; n++) {
            if (n === 2) {
              log(`waiting ${formatDuration(opts.pause as number)} while the domains write to their memory`);
              await sleep(opts.pause as number, signal);
              signal.throwIfAborted();
            }
            const batch = await startBatch(redis, prefix, {
              store: EMBEDDED_STORE,
              mode: "checkpoint",
              labels: ["nightly"],
              compress: true,
            });
            const done = await waitForBatch(redis, prefix, batch.jobId, { signal });
            if (done.report === undefined)
              throw new WorkFailedError(`batch ${batch.batchId} failed: ${done.error ?? "unknown"}`);
            const report = withSkipped(done.report, batch.skipped);
            batches.push(report);
            log(`nightly batch ${n}: ${reportText(fromBatch(report)).split("\n")[0]}`);
          }
          const compressed = await waitForCompression(redis, prefix, signal);
          log(`compressed ${compressed.done} images${compressed.failed ? `, ${compressed.failed} failed` : ""}`);
        });
      } finally {
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
        log("stopping the fleet");
        await served?.close().catch(() => undefined);
        await running.stop();
        await withRedis(fleet, (redis) => deletePrefix(redis, prefix));
        if (!opts.keep) rmSync(demoDir, { recursive: true, force: true });
      }
      const result = {
        hosts: fleet.hosts,
        domains: fleet.hosts * fleet.domains,
        batches: batches.map((b) => ({
          batchId: b.batchId,
          saved: b.saved,
          failed: b.failed,
          bytesTotal: b.bytesTotal,
          bytesNew: b.bytesNew,
          seconds: b.seconds,
        })),
      };
      const text = () => {
        const lines = [
          table(
            [
              { header: "BATCH" },
              { header: "SAVED", right: true },
              { header: "FAILED", right: true },
              { header: "TOTAL", right: true },
              { header: "NEW", right: true },
              { header: "TIME", right: true },
            ],
            result.batches.map((b, i) => [
              String(i + 1),
              String(b.saved),
              String(b.failed),
              formatSize(b.bytesTotal),
              formatSize(b.bytesNew),
              formatDuration(b.seconds * 1000),
            ]),
          ),
        ];
        const [first, second] = result.batches;
        if (first && second && first.bytesNew > 0)
          lines.push(
            `the second batch stored ${((100 * second.bytesNew) / second.bytesTotal).toFixed(1)}% of its bytes: only the pages that changed`,
          );
        return lines.join("\n");
      };
      const failed = batches.reduce((n, b) => n + b.failed, 0);
      if (failed > 0) throw new WorkFailedError(`${failed} saves failed`, { report: result, text: text() });
      emit(opts.json, result, text);
    });
}

/** Wait (bounded) until the compress queue has nothing left to do. */
async function waitForCompression(
  redis: RedisClient,
  prefix: string,
  signal: AbortSignal,
): Promise<{ done: number; failed: number }> {
  const queue = new Queue(COMPRESS_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
  try {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const c = await queue.getJobCounts("waiting", "active", "delayed", "completed", "failed", "prioritized");
      if ((c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) === 0 || Date.now() > deadline) {
        return { done: c.completed ?? 0, failed: c.failed ?? 0 };
      }
      await sleep(300, signal);
      signal.throwIfAborted();
    }
  } finally {
    await queue.close();
  }
}

/** Remove every key of the demo's prefix. */
async function deletePrefix(redis: RedisClient, prefix: string): Promise<void> {
  for await (const found of scanKeys(redis, keys.all(prefix))) await redis.del(...found);
}

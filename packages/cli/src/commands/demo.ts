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
import { startBatch, waitForBatch, withSkipped, type BatchReport } from "@xenfleet/fleet";
import { bullPrefix, COMPRESS_QUEUE, keys } from "@xenfleet/jobs";
import type { Redis } from "ioredis";
import { addEmbeddedOptions, embeddedFleet } from "./up.js";
import { startEmbeddedFleet, waitForHosts } from "./embedded-fleet.js";
import { fail, integer, mib, withRedis } from "./fleet-options.js";
import { ensureRedis } from "./local-redis.js";

export function registerDemoCommand(program: Command): void {
  addEmbeddedOptions(program.command("demo"), { hosts: 3, domains: 4, memory: "64M", dirtyRate: 100 })
    .description(
      "Bring up an embedded fleet, run the nightly batch save twice (the second incremental), report, shut down",
    )
    .option("--pause <seconds>", "time between the two batches, while the domains write memory", integer, 5)
    .option("--keep", "keep the demo's sim hosts and store afterwards")
    .option("--json", "print the result as one JSON object")
    .action(async (opts) => {
      const log = (line: string) => process.stderr.write(`demo: ${line}\n`);
      try {
        const demoDir = join(opts.stateDir as string, "demo");
        rmSync(demoDir, { recursive: true, force: true });
        const prefix = opts.prefix === "xenfleet" ? `demo-${randomBytes(4).toString("hex")}` : (opts.prefix as string);
        const store =
          process.env.XENFLEET_STORE === undefined && opts.store === "./.xenfleet/store"
            ? pathToFileURL(resolve(demoDir, "store")).href
            : (opts.store as string);
        const fleet = embeddedFleet({ ...opts, prefix, store, stateDir: demoDir, logLevel: "warn" });
        await ensureRedis(fleet.redis, opts.stateDir as string, log);
        log(
          `creating ${fleet.hosts} sim hosts x ${fleet.domains} domains of ${mib(fleet.domainMemoryBytes)}, prefix ${prefix}`,
        );
        const running = await startEmbeddedFleet(fleet, log);
        const batches: BatchReport[] = [];
        // Ctrl-C or SIGTERM ends the demo early, still stopping the fleet cleanly.
        const interrupted = new AbortController();
        const onSignal = () => interrupted.abort(new Error("interrupted"));
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        const signal = interrupted.signal;
        try {
          await withRedis(fleet, async (redis) => {
            await waitForHosts(redis, prefix, fleet.hosts, 120_000, signal);
            log("fleet up");
            for (let n = 1; n <= 2; n++) {
              if (n === 2) {
                log(`waiting ${opts.pause} s while the domains write to their memory`);
                await sleep((opts.pause as number) * 1000, signal);
              }
              const batch = await startBatch(redis, prefix, {
                store: fleet.store,
                mode: "checkpoint",
                labels: ["nightly"],
                compress: true,
              });
              const done = await waitForBatch(redis, prefix, batch.jobId, { signal });
              if (done.report === undefined)
                throw new Error(`batch ${batch.batchId} failed: ${done.error ?? "unknown"}`);
              const report = withSkipped(done.report, batch.skipped);
              batches.push(report);
              log(
                `nightly batch ${n}: saved ${report.saved}, failed ${report.failed}, ${mib(report.bytesTotal)} total, ` +
                  `${mib(report.bytesNew)} new, ${report.seconds.toFixed(1)} s`,
              );
            }
            const compressed = await waitForCompression(redis, prefix, signal);
            log(`compressed ${compressed.done} images${compressed.failed ? `, ${compressed.failed} failed` : ""}`);
          });
        } finally {
          process.removeListener("SIGINT", onSignal);
          process.removeListener("SIGTERM", onSignal);
          log("stopping the fleet");
          await running.stop();
          await withRedis(fleet, (redis) => deletePrefix(redis, prefix));
          if (!opts.keep) rmSync(demoDir, { recursive: true, force: true });
        }
        const result = {
          hosts: fleet.hosts,
          domains: fleet.hosts * fleet.domains,
          batches: batches.map((b) => ({
            saved: b.saved,
            failed: b.failed,
            bytesTotal: b.bytesTotal,
            bytesNew: b.bytesNew,
            seconds: b.seconds,
          })),
        };
        if (opts.json) process.stdout.write(JSON.stringify(result) + "\n");
        else {
          process.stdout.write(
            `${"batch".padEnd(8)}${"saved".padStart(7)}${"failed".padStart(8)}${"total".padStart(12)}${"new".padStart(12)}${"seconds".padStart(9)}\n`,
          );
          for (const [i, b] of result.batches.entries()) {
            process.stdout.write(
              `${String(i + 1).padEnd(8)}${String(b.saved).padStart(7)}${String(b.failed).padStart(8)}${mib(b.bytesTotal).padStart(12)}${mib(b.bytesNew).padStart(12)}${b.seconds.toFixed(1).padStart(9)}\n`,
            );
          }
          const [first, second] = result.batches;
          if (first && second && first.bytesNew > 0) {
            process.stdout.write(
              `the second batch stored ${((100 * second.bytesNew) / second.bytesTotal).toFixed(1)}% of its bytes: only the pages that changed\n`,
            );
          }
        }
        if (batches.some((b) => b.failed > 0)) process.exitCode = 1;
      } catch (err) {
        fail(err, opts.json);
      }
    });
}

/** Wait (bounded) until the compress queue has nothing left to do. */
async function waitForCompression(
  redis: Redis,
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
    }
  } finally {
    await queue.close();
  }
}

/** Remove every key of the demo's prefix. */
async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", keys.all(prefix), "COUNT", 1000);
    cursor = next;
    if (found.length > 0) await redis.del(...found);
  } while (cursor !== "0");
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

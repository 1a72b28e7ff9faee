/**
 * `xenfleet status`: the fleet at a glance: hosts up and down, work queued
 * and running per queue, and the recent batches with their progress. On a
 * terminal it keeps a live view (progress bars) while batches run; otherwise,
 * or with --json, it prints one JSON snapshot.
 */
import { sleep } from "@xenfleet/core";
import { Queue } from "bullmq";
import type { Command } from "commander";
import { activeSaveSlots, getLimits, listBatches, listSchedules } from "@xenfleet/fleet";
import { bullPrefix, COMPRESS_QUEUE, CONTROLLER_QUEUE, hostQueue, listHosts } from "@xenfleet/jobs";
import type { Redis } from "ioredis";
import { addFleetOptions, fail, fleetOptions, withRedis } from "./fleet-options.js";
import { batchBars } from "./progress.js";

const COUNTED = ["waiting", "active", "delayed", "completed", "failed", "waiting-children", "prioritized"] as const;

export async function fleetSnapshot(redis: Redis, prefix: string) {
  const hosts = await listHosts(redis, prefix);
  const queueNames = [
    CONTROLLER_QUEUE,
    COMPRESS_QUEUE,
    ...hosts.flatMap((h) => [hostQueue("save", h.id), hostQueue("restore", h.id)]),
  ];
  const queues: Record<string, Record<string, number>> = {};
  for (const name of queueNames) {
    const queue = new Queue(name, { connection: redis, prefix: bullPrefix(prefix) });
    try {
      queues[name] = await queue.getJobCounts(...COUNTED);
    } finally {
      await queue.close();
    }
  }
  return {
    hosts: hosts.map((h) => ({ id: h.id, state: h.state, domains: h.info?.domains.length ?? 0 })),
    queues,
    limits: await getLimits(redis, prefix),
    savesRunning: await activeSaveSlots(redis, prefix),
    schedules: await listSchedules(redis, prefix),
    batches: await listBatches(redis, prefix, 10),
  };
}

export function registerStatusCommand(program: Command): void {
  addFleetOptions(program.command("status"))
    .description("Hosts, queues, schedules and batch progress; live on a terminal")
    .option("--json", "print one JSON snapshot")
    .action(async (opts) => {
      try {
        const options = fleetOptions(opts);
        await withRedis(options, async (redis) => {
          const snapshot = await fleetSnapshot(redis, options.prefix);
          if (opts.json || !process.stdout.isTTY) {
            process.stdout.write(JSON.stringify(snapshot) + "\n");
            return;
          }
          printSummary(snapshot);
          const running = (s: typeof snapshot) =>
            s.batches.filter((b) => b.state !== "completed" && b.state !== "failed");
          if (running(snapshot).length === 0) return;
          const bars = batchBars();
          const stop = new AbortController();
          process.once("SIGINT", () => stop.abort());
          try {
            let current = snapshot;
            while (!stop.signal.aborted) {
              bars.update(current.batches.filter((b) => b.state !== "completed" || running(current).length > 0));
              if (running(current).length === 0) break;
              await sleep(1000);
              current = await fleetSnapshot(redis, options.prefix);
            }
          } finally {
            bars.stop();
          }
        });
      } catch (err) {
        fail(err, opts.json);
      }
    });
}

function printSummary(s: Awaited<ReturnType<typeof fleetSnapshot>>): void {
  const up = s.hosts.filter((h) => h.state !== "down").length;
  const lines = [
    `hosts: ${up} up, ${s.hosts.length - up} down (${s.hosts.map((h) => `${h.id}:${h.state}`).join(" ")})`,
  ];
  lines.push(
    `saves running: ${s.savesRunning} (limits: ${s.limits.hostSaves}/host, ${s.limits.fleetSaves || "no limit"} fleet-wide)`,
  );
  for (const [name, c] of Object.entries(s.queues)) {
    const busy = Object.entries(c)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${state} ${n}`);
    lines.push(`  ${name.padEnd(24)} ${busy.join(", ") || "idle"}`);
  }
  for (const sch of s.schedules)
    lines.push(
      `schedule ${sch.id}: ${sch.pattern ?? `every ${sch.every} ms`}${sch.next ? `, next ${new Date(sch.next).toISOString()}` : ""}`,
    );
  for (const b of s.batches.slice(0, 5)) {
    const r = b.report;
    lines.push(
      `batch ${b.batchId}: ${b.state}, ${b.finished}/${b.total}${r ? `, saved ${r.saved}, failed ${r.failed}, ${r.seconds.toFixed(1)} s` : ""}`,
    );
  }
  process.stdout.write(lines.join("\n") + "\n");
}

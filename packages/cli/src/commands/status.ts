/**
 * `xenfleet status`: the fleet at a glance: hosts up, draining and down, work queued
 * and running per queue, schedules, and the recent batches with their
 * progress. On a terminal it follows running batches (progress bars) until
 * they end or Ctrl-C; otherwise, or with --json, it prints one snapshot.
 */
import { sleep } from "@xenfleet/core";
import type { Command } from "commander";
import { fleetSnapshot, type BatchProgress, type FleetSnapshot } from "@xenfleet/fleet";
import type { RedisClient } from "@xenfleet/jobs";
import { emit, iso } from "../output.js";
import { addRedisOptions, withRedis } from "./fleet-options.js";
import { batchStep, tracker } from "./progress.js";
import { scheduleJson, when } from "./schedule.js";

type Snapshot = FleetSnapshot;

function batchJson(b: BatchProgress) {
  return {
    batchId: b.batchId,
    jobId: b.jobId,
    state: b.state,
    total: b.total,
    finished: b.finished,
    failed: b.failed,
    created: iso(b.createdAt),
    ...(b.report ? { report: b.report } : {}),
    ...(b.error ? { error: b.error } : {}),
  };
}

export function registerStatusCommand(program: Command): void {
  addRedisOptions(program.command("status"))
    .description("Hosts, queues, schedules and batch progress; follows running batches on a terminal")
    .option("--json", "print one snapshot as one JSON document")
    .action(async (opts) => {
      await withRedis(opts, async (redis) => {
        const snapshot = await fleetSnapshot(redis, opts.prefix);
        emit(
          opts.json,
          { ...snapshot, schedules: snapshot.schedules.map(scheduleJson), batches: snapshot.batches.map(batchJson) },
          () => summary(snapshot),
        );
        if (opts.json || !process.stderr.isTTY) return;
        await follow(redis, opts.prefix, snapshot);
      });
    });
}

const running = (s: Snapshot) => s.batches.filter((b) => b.state !== "completed" && b.state !== "failed");

/** Progress bars of the running batches until they end (or Ctrl-C). */
async function follow(redis: RedisClient, prefix: string, first: Snapshot): Promise<void> {
  if (running(first).length === 0) return;
  const bars = tracker();
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  try {
    let current = first;
    const shown = new Set(running(first).map((b) => b.jobId));
    while (!stop.signal.aborted) {
      for (const b of current.batches.filter((x) => shown.has(x.jobId) || running(current).includes(x))) {
        shown.add(b.jobId);
        bars.update(b.jobId, batchStep(b));
      }
      if (running(current).length === 0) break;
      await sleep(1000, stop.signal);
      current = await fleetSnapshot(redis, prefix);
    }
  } finally {
    bars.stop();
  }
}

function summary(s: Snapshot): string {
  const { up, draining, down } = s.hostCounts;
  const lines = [
    `hosts: ${up} up, ${draining} draining, ${down} down (${s.hosts.map((h) => `${h.host}:${h.state}`).join(" ")})`,
    `saves running: ${s.savesRunning} (limits: ${s.limits.hostSaves}/host, ${s.limits.fleetSaves || "no limit"} fleet-wide)`,
  ];
  for (const [name, c] of Object.entries(s.queues)) {
    const busy = Object.entries(c)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${state} ${n}`);
    lines.push(`  ${name.padEnd(24)} ${busy.join(", ") || "idle"}`);
  }
  for (const svc of s.services)
    lines.push(
      `service ${svc.host === undefined ? svc.service : `${svc.service}@${svc.host}`} (pid ${svc.pid} on ${svc.machine}): ${svc.metricsUrl ?? "no metrics"}`,
    );
  for (const sch of s.schedules)
    lines.push(`schedule ${sch.id}: ${when(sch)}${sch.next ? `, next ${iso(sch.next)}` : ""}`);
  for (const b of s.batches.slice(0, 5)) {
    const r = b.report;
    lines.push(
      `batch ${b.batchId}: ${b.state}, ${b.finished}/${b.total}${r ? `, saved ${r.saved}, failed ${r.failed}, ${r.seconds.toFixed(1)} s` : ""}`,
    );
  }
  return lines.join("\n");
}

/**
 * `xenfleet status`: the fleet at a glance: hosts up, draining and down, work queued
 * and running per queue, schedules, and the recent batches with their
 * progress. On a terminal it follows running batches (progress bars) until
 * they end or Ctrl-C; otherwise, or with --json, it prints one snapshot.
 */
import { sleep } from "@xenfleet/core";
import { Queue } from "bullmq";
import type { Command } from "commander";
import { activeSaveSlots, getLimits, listBatches, listSchedules, type BatchProgress } from "@xenfleet/fleet";
import {
  bullPrefix,
  COMPRESS_QUEUE,
  CONTROLLER_QUEUE,
  hostQueue,
  listHosts,
  type HostState,
  type RedisClient,
} from "@xenfleet/jobs";
import { emit, iso } from "../output.js";
import { addRedisOptions, withRedis } from "./fleet-options.js";
import { batchStep, tracker } from "./progress.js";
import { scheduleJson, when } from "./schedule.js";

const COUNTED = ["waiting", "active", "delayed", "completed", "failed", "waiting-children", "prioritized"] as const;

export async function fleetSnapshot(redis: RedisClient, prefix: string) {
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
  const inState = (state: HostState) => hosts.filter((h) => h.state === state).length;
  return {
    hostCounts: { up: inState("up"), draining: inState("draining"), down: inState("down") },
    hosts: hosts.map((h) => ({ host: h.id, state: h.state, domains: h.info?.domains.length ?? 0 })),
    queues,
    limits: await getLimits(redis, prefix),
    savesRunning: await activeSaveSlots(redis, prefix),
    schedules: await listSchedules(redis, prefix),
    batches: await listBatches(redis, prefix, 10),
  };
}

type Snapshot = Awaited<ReturnType<typeof fleetSnapshot>>;

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

/**
 * The fleet at a glance, as `xenfleet status` and the dashboard show it:
 * hosts by state, job counts per queue, save limits, schedules, the
 * recent batches, and the running services with their metrics URLs.
 */
import { Queue } from "bullmq";
import {
  bullPrefix,
  COMPRESS_QUEUE,
  CONTROLLER_QUEUE,
  hostQueue,
  listHosts,
  listServices,
  type HostState,
  type RedisClient,
} from "@xenfleet/jobs";
import { listBatches } from "./batch-report.js";
import { activeSaveSlots, getLimits } from "./limits.js";
import { listSchedules } from "./schedules.js";

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
    services: (await listServices(redis, prefix)).map((s) => ({
      service: s.service,
      ...(s.host === undefined ? {} : { host: s.host }),
      machine: s.machine,
      pid: s.pid,
      metricsUrl: s.metricsUrl ?? null,
    })),
  };
}

export type FleetSnapshot = Awaited<ReturnType<typeof fleetSnapshot>>;

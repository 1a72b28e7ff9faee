/**
 * Prometheus metrics for a service process. Each process builds one registry
 * (never prom-client's global one, so tests and several workers in one
 * process do not trample each other) and the worker harness feeds it.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** How a job attempt ended, as counted by `xenfleet_jobs_total{state}`. */
/** waiting_children and delayed: the handler moved its job on purpose; the attempt goes on later. */
export type JobOutcome =
  | "completed"
  | "failed"
  | "retrying"
  | "invalid"
  | "handed_back"
  | "stalled"
  | "waiting_children"
  | "delayed";

export interface FleetMetrics {
  registry: Registry;
  jobs: Counter<"queue" | "type" | "state">;
  jobSeconds: Histogram<"queue" | "type" | "state">;
  /** Bytes of guest memory saved (the whole stream), new bytes stored, bytes restored. */
  bytesSaved: Counter<"host">;
  bytesNew: Counter<"host">;
  bytesRestored: Counter<"host">;
  /** How long each save kept its domain paused (only saves that measured it). */
  savePausedSeconds: Histogram<"host">;
  /** Per migration, on its source host: the domain's downtime (when measured), the whole move's duration, the bytes sent. */
  migrationDowntimeSeconds: Histogram<"host" | "mode">;
  migrationSeconds: Histogram<"host" | "mode">;
  migrationSentBytes: Histogram<"host" | "mode">;
  /** Bytes compress jobs read (raw) and wrote (compressed); bytes verify jobs read and checked. */
  compressReadBytes: Counter;
  compressWrittenBytes: Counter;
  verifyReadBytes: Counter;
}

/** From a millisecond to five minutes: a checkpoint's pause is short; a suspend or a slow final pass is not. */
const PAUSE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** 1 MiB to 64 GiB, by fours: a small guest's memory to a large one's. */
const SIZE_BUCKETS = Array.from({ length: 9 }, (_, i) => 2 ** 20 * 4 ** i);

export interface MetricsOptions {
  /** Added as a label to every metric, e.g. { service: "save-worker", host: "h1" }. */
  labels?: Record<string, string>;
  /** Node process metrics (memory, event loop lag); off in tests. */
  processMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): FleetMetrics {
  const registry = new Registry();
  if (options.labels) registry.setDefaultLabels(options.labels);
  // Node's process metrics under their standard names (process_*, nodejs_*), so stock dashboards match.
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    jobs: new Counter({
      name: "xenfleet_jobs_total",
      help: "Job attempts by queue, job type and how they ended",
      labelNames: ["queue", "type", "state"],
      registers,
    }),
    jobSeconds: new Histogram({
      name: "xenfleet_job_duration_seconds",
      help: "Time spent processing one job attempt",
      labelNames: ["queue", "type", "state"],
      // Jobs range from sub-second (compress of a small image) to an hour
      // (suspend-saving a large domain over a slow link).
      buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    bytesSaved: new Counter({
      name: "xenfleet_bytes_saved_total",
      help: "Bytes of domain streams saved",
      labelNames: ["host"],
      registers,
    }),
    bytesNew: new Counter({
      name: "xenfleet_bytes_new_total",
      help: "Bytes newly written to the store by saves (after deduplication)",
      labelNames: ["host"],
      registers,
    }),
    bytesRestored: new Counter({
      name: "xenfleet_bytes_restored_total",
      help: "Bytes of domain streams restored",
      labelNames: ["host"],
      registers,
    }),
    savePausedSeconds: new Histogram({
      name: "xenfleet_save_paused_seconds",
      help: "How long a save kept its domain paused",
      labelNames: ["host"],
      buckets: PAUSE_BUCKETS,
      registers,
    }),
    migrationDowntimeSeconds: new Histogram({
      name: "xenfleet_migration_downtime_seconds",
      help: "How long a migrated domain ran nowhere (paused on its source until it ran on its target)",
      labelNames: ["host", "mode"],
      buckets: PAUSE_BUCKETS,
      registers,
    }),
    migrationSeconds: new Histogram({
      name: "xenfleet_migration_duration_seconds",
      help: "How long a migration took, from its source's point of view",
      labelNames: ["host", "mode"],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    migrationSentBytes: new Histogram({
      name: "xenfleet_migration_sent_bytes",
      help: "Bytes a migration sent: on the wire (live) or added to the store (cold)",
      labelNames: ["host", "mode"],
      buckets: SIZE_BUCKETS,
      registers,
    }),
    compressReadBytes: new Counter({
      name: "xenfleet_compress_read_bytes_total",
      help: "Bytes of image data compress jobs read (before compression)",
      registers,
    }),
    compressWrittenBytes: new Counter({
      name: "xenfleet_compress_written_bytes_total",
      help: "Bytes of image data compress jobs wrote (after compression)",
      registers,
    }),
    verifyReadBytes: new Counter({
      name: "xenfleet_verify_read_bytes_total",
      help: "Bytes verify jobs read and hashed",
      registers,
    }),
  };
}

/** What a verify run leaves behind, per store: images not verified within its window, and images found broken. */
export interface ImageVerifyCounts {
  unverified: number;
  broken: number;
}

/**
 * The controller's gauges of verification, set at the end of each verify
 * run (xenfleet_images_unverified, xenfleet_images_broken, by store).
 * Returns the setter the verify-run handler calls.
 */
export function createVerifyGauges(registry: Registry): (store: string, counts: ImageVerifyCounts) => void {
  const registers = [registry];
  const unverified = new Gauge({
    name: "xenfleet_images_unverified",
    help: "Images with no verification within the window of the last verify run (none ever, without a window)",
    labelNames: ["store"],
    registers,
  });
  const broken = new Gauge({
    name: "xenfleet_images_broken",
    help: "Images whose last verification found them broken, at the end of the last verify run",
    labelNames: ["store"],
    registers,
  });
  return (store, counts) => {
    unverified.set({ store }, counts.unverified);
    broken.set({ store }, counts.broken);
  };
}

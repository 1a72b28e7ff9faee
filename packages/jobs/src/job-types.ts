/**
 * The one table of job types: for each, the version this code speaks, the
 * payload and result schemas, where the job runs, and its retry policy.
 * Job name in BullMQ == job type.
 */
import type { JobsOptions } from "bullmq";
import type { z } from "zod";
import * as p from "./schemas/payloads.js";
import * as g from "./schemas/progress.js";
import * as r from "./schemas/results.js";
import { COMPRESS_QUEUE, CONTROLLER_QUEUE, hostQueue, type HostQueueKind } from "./names.js";

/** Where a job type runs: on one host's queue of that kind, or a shared queue. */
export type JobPlace = { readonly host: HostQueueKind } | { readonly shared: "compress" | "controller" };

/** What upgrading an old payload may ask of the worker reading it. */
export interface UpgradeContext {
  /**
   * The name of the configured store `ref` is: a name as itself, or (an old
   * payload) the URL of one of the worker's stores. Throws when it is none.
   */
  storeName(ref: string): string;
}

export interface PreviousVersion {
  readonly version: number;
  readonly payload: z.ZodType<{ v: number }>;
  readonly upgrade: (old: never, ctx: UpgradeContext) => { v: number };
}

/**
 * An older version of a payload whose only change since is that its store
 * (`field`) is named: upgraded to `current` with the name of the configured
 * store it names or, as a URL, equals.
 */
function storeNamed(
  version: number,
  payload: z.ZodType<{ v: number }>,
  current: number,
  field: "store" | "coldVia" = "store",
): PreviousVersion {
  const upgrade = (old: { v: number } & Record<string, unknown>, ctx: UpgradeContext) => {
    const ref = old[field];
    return { ...old, v: current, ...(typeof ref === "string" ? { [field]: ctx.storeName(ref) } : {}) };
  };
  return { version, payload, upgrade };
}

export interface JobSpec {
  /** The payload version this code writes. */
  readonly version: number;
  readonly payload: z.ZodType<{ v: number }>;
  /**
   * Payload versions before it, still read and upgraded to this one: during
   * a rolling upgrade, queues and job schedulers hold payloads written by
   * older code.
   */
  readonly previous?: readonly PreviousVersion[];
  /** The result version this code writes. */
  readonly resultVersion: number;
  readonly result: z.ZodType<{ v: number }>;
  /** The result version before it, still read (a finished job's result outlives an upgrade) and upgraded. */
  readonly previousResult?: {
    readonly version: number;
    readonly result: z.ZodType<{ v: number }>;
    readonly upgrade: (old: never) => { v: number };
  };
  /** What the job reports as its progress while it runs, when it reports any. */
  readonly progress?: z.ZodType<{ v: number }>;
  readonly place: JobPlace;
  readonly options: JobsOptions;
}

/**
 * Transient failures (a store returning 503, a Redis blip, a host busy) are
 * retried with exponential backoff and jitter, so a fleet of jobs failing
 * together does not retry in lockstep: 10s, 20s, 40s, 80s. Unrecoverable
 * errors skip the remaining attempts.
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: "exponential", delay: 10_000, jitter: 0.25 },
  // Finished jobs are kept long enough to read reports, then trimmed so
  // Redis does not grow with every night's batch.
  removeOnComplete: { age: 7 * 86_400, count: 10_000 },
  removeOnFail: { age: 30 * 86_400, count: 50_000 },
};

export const JOB_SPECS = {
  save: {
    version: 2,
    payload: p.savePayloadV2,
    previous: [storeNamed(1, p.savePayloadV1, 2)],
    resultVersion: 2,
    result: r.saveResultV2,
    // v1 always had pausedMs; v2 may leave it out (unknown).
    previousResult: {
      version: 1,
      result: r.saveResultV1,
      upgrade: (old: z.infer<typeof r.saveResultV1>) => ({ ...old, v: 2 as const }),
    },
    place: { host: "save" },
    options: DEFAULT_JOB_OPTIONS,
  },
  restore: {
    version: 2,
    payload: p.restorePayloadV2,
    // v1 named its store by URL and had no uuid (the image's own).
    previous: [storeNamed(1, p.restorePayloadV1, 2)],
    resultVersion: 1,
    result: r.restoreResultV1,
    progress: g.restoreProgressV1,
    place: { host: "restore" },
    options: DEFAULT_JOB_OPTIONS,
  },
  compress: {
    version: 2,
    payload: p.compressPayloadV2,
    previous: [storeNamed(1, p.compressPayloadV1, 2)],
    resultVersion: 1,
    result: r.compressResultV1,
    place: { shared: "compress" },
    options: DEFAULT_JOB_OPTIONS,
  },
  "batch-save": {
    version: 3,
    payload: p.batchSavePayloadV3,
    // v1 had no hosts filter (it meant every host); v3 names its store.
    previous: [storeNamed(1, p.batchSavePayloadV1, 3), storeNamed(2, p.batchSavePayloadV2, 3)],
    resultVersion: 1,
    result: r.batchSaveResultV1,
    progress: g.batchSaveProgressV1,
    place: { shared: "controller" },
    options: { ...DEFAULT_JOB_OPTIONS, attempts: 3 },
  },
  // A failed migration is not retried blindly: the evacuation that asked for
  // it picks another target (or a cold path) instead.
  "migrate-send": {
    version: 2,
    payload: p.migrateSendPayloadV2,
    previous: [storeNamed(1, p.migrateSendPayloadV1, 2)],
    resultVersion: 2,
    result: r.migrateSendResultV2,
    // v1 always had downtimeMs; v2 may leave it out (unknown).
    previousResult: {
      version: 1,
      result: r.migrateSendResultV1,
      upgrade: (old: z.infer<typeof r.migrateSendResultV1>) => ({ ...old, v: 2 as const }),
    },
    progress: g.migrateSendProgressV1,
    place: { host: "migrate-send" },
    options: { ...DEFAULT_JOB_OPTIONS, attempts: 1 },
  },
  "migrate-recv": {
    version: 2,
    payload: p.migrateRecvPayloadV2,
    previous: [storeNamed(1, p.migrateRecvPayloadV1, 2)],
    resultVersion: 1,
    result: r.migrateRecvResultV1,
    place: { host: "migrate-recv" },
    options: { ...DEFAULT_JOB_OPTIONS, attempts: 1 },
  },
  evacuate: {
    version: 2,
    payload: p.evacuatePayloadV2,
    previous: [storeNamed(1, p.evacuatePayloadV1, 2, "coldVia")],
    resultVersion: 1,
    result: r.evacuateResultV1,
    progress: g.evacuateProgressV1,
    place: { shared: "controller" },
    options: { ...DEFAULT_JOB_OPTIONS, attempts: 3 },
  },
  retention: {
    version: 2,
    payload: p.retentionPayloadV2,
    previous: [storeNamed(1, p.retentionPayloadV1, 2)],
    resultVersion: 1,
    result: r.retentionResultV1,
    place: { shared: "controller" },
    options: DEFAULT_JOB_OPTIONS,
  },
  gc: {
    version: 2,
    payload: p.gcPayloadV2,
    previous: [storeNamed(1, p.gcPayloadV1, 2)],
    resultVersion: 1,
    result: r.gcResultV1,
    place: { shared: "controller" },
    options: DEFAULT_JOB_OPTIONS,
  },
  // Verification is reading and hashing: the compress workers take it, and it scales out with them.
  "verify-run": {
    version: 1,
    payload: p.verifyRunPayloadV1,
    resultVersion: 1,
    result: r.verifyRunResultV1,
    progress: g.verifyRunProgressV1,
    place: { shared: "controller" },
    options: { ...DEFAULT_JOB_OPTIONS, attempts: 3 },
  },
  verify: {
    version: 1,
    payload: p.verifyPayloadV1,
    resultVersion: 1,
    result: r.verifyResultV1,
    place: { shared: "compress" },
    options: DEFAULT_JOB_OPTIONS,
  },
  // A failed check is a verdict, not an error to retry: the job's result says why.
  "health-check": {
    version: 1,
    payload: p.healthCheckPayloadV1,
    resultVersion: 1,
    result: r.healthCheckResultV1,
    place: { host: "restore" },
    options: { ...DEFAULT_JOB_OPTIONS, attempts: 1 },
  },
} as const satisfies Record<string, JobSpec>;

export type JobType = keyof typeof JOB_SPECS;
export const JOB_TYPES = Object.keys(JOB_SPECS) as JobType[];

export type JobPayload<T extends JobType> = z.infer<(typeof JOB_SPECS)[T]["payload"]>;
export type JobResult<T extends JobType> = z.infer<(typeof JOB_SPECS)[T]["result"]>;

/** Job types that report progress, and the progress each reports. */
type WithProgress = { [T in JobType]: (typeof JOB_SPECS)[T] extends { progress: z.ZodType } ? T : never }[JobType];
export type ProgressJobType = WithProgress;
export type JobProgress<T extends ProgressJobType> = z.infer<(typeof JOB_SPECS)[T]["progress"]>;

export function isJobType(name: string): name is JobType {
  return Object.hasOwn(JOB_SPECS, name);
}

/** The queue a job goes to: its host's queue for host-bound work, else the shared one. */
export function queueOf<T extends JobType>(type: T, payload: JobPayload<T>): string {
  const place: JobPlace = JOB_SPECS[type].place;
  if ("host" in place) return hostQueue(place.host, (payload as { host: string }).host);
  return place.shared === "compress" ? COMPRESS_QUEUE : CONTROLLER_QUEUE;
}

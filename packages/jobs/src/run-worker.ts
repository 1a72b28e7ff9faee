/**
 * The harness every xenfleet worker runs in. It owns the parts that must be
 * the same everywhere: payloads are parsed before a handler sees them, bad
 * payloads fail once and for all while the worker keeps serving, transient
 * errors are retried, and shutdown finishes or hands back the job in hand.
 */
import { DelayedError, type Job, UnrecoverableError, WaitingChildrenError, WaitingError } from "bullmq";
import type { RedisClient } from "./connection.js";
import { InvalidJobError } from "./errors.js";
import { JOB_SPECS, type JobPayload, type JobResult, type JobType, type UpgradeContext } from "./job-types.js";
import type { Logger } from "./logger.js";
import type { FleetMetrics, JobOutcome } from "./metrics.js";
import { bullPrefix, hostOfQueue } from "./names.js";
import { jobResult, parseJobByName } from "./parse-job.js";
import { ParsingWorker, unparseableReason } from "./parsing-worker.js";

export interface JobContext {
  /** The BullMQ job, for progress and logs. Its `data` is unparsed: use the payload. */
  job: Job;
  /**
   * Aborted when the job must stop: the grace period of a shutdown ran out
   * (the job is then handed back to the queue) or the job was cancelled.
   * Handlers pass it down to every long operation.
   */
  signal: AbortSignal;
  logger: Logger;
}

export type JobHandler<T extends JobType> = (
  payload: JobPayload<T>,
  ctx: JobContext,
) => Promise<Omit<JobResult<T>, "v">>;

/** Handlers by job type; a job of a type without a handler is refused as invalid. */
export type JobHandlers = { [T in JobType]?: JobHandler<T> };

/**
 * Stalled-job recovery. A worker renews its lock every lockDuration/2; a
 * worker that dies stops renewing, and within about lockDuration +
 * stalledInterval another worker of the queue moves the job back to wait.
 * 30s tolerates a long GC pause or a slow Redis without a false stall (which
 * would start a second save of the same domain). maxStalledCount 2 lets a
 * job survive its worker being killed twice (a deploy, then a host reboot);
 * a job that keeps killing its worker fails on the third stall instead of
 * crash-looping the fleet.
 */
export interface StallSettings {
  lockDuration: number;
  stalledInterval: number;
  maxStalledCount: number;
}

export const DEFAULT_STALL_SETTINGS: StallSettings = {
  lockDuration: 30_000,
  stalledInterval: 15_000,
  maxStalledCount: 2,
};

export interface RunWorkerOptions {
  /** Queue name, from the names module (e.g. `hostQueue("save", host)`). */
  queue: string;
  /** An ioredis client made with role "worker"; the caller owns and closes it. */
  connection: RedisClient;
  /** The fleet prefix (e.g. "xenfleet"), not the BullMQ hash-tag form. */
  prefix: string;
  handlers: JobHandlers;
  logger: Logger;
  metrics?: FleetMetrics;
  /** Aborting it starts a graceful shutdown (services wire it to SIGTERM). */
  signal?: AbortSignal;
  /** Jobs processed at once by this worker. Default 1. */
  concurrency?: number;
  /** How long a shutdown waits for the jobs in hand to finish. Default 60s. */
  graceMs?: number;
  /** After the grace period, how long handlers get to stop once aborted. Default 10s. */
  handBackMs?: number;
  /** Shown on jobs this worker processed. */
  name?: string;
  /**
   * The worker's stores, by name: an old payload's store URL is read only
   * when it is that of one of them (see UpgradeContext). Without it, old
   * payloads naming a store by URL are refused.
   */
  stores?: UpgradeContext;
  stall?: Partial<StallSettings>;
}

/**
 * finished: every job in hand completed (or failed) on its own.
 * handed-back: some jobs were aborted and returned to their queue, unspent.
 * abandoned: a handler ignored its abort signal; its job comes back through
 *   stalled-job recovery once this process exits and the lock expires.
 */
export type ShutdownOutcome = "finished" | "handed-back" | "abandoned";

export interface WorkerHandle {
  worker: ParsingWorker;
  /** Start a graceful shutdown (the same as aborting `signal`). */
  stop(): Promise<ShutdownOutcome>;
  /** Settles when a shutdown has completed. */
  stopped: Promise<ShutdownOutcome>;
}

export function runWorker(options: RunWorkerOptions): WorkerHandle {
  const { queue, handlers, logger, metrics } = options;
  const stall = { ...DEFAULT_STALL_SETTINGS, ...options.stall };
  const graceMs = options.graceMs ?? 60_000;
  const handBackMs = options.handBackMs ?? 10_000;
  const log = logger.child({ queue });
  let handingBack = false;
  let handedBack = 0;

  const processor = async (job: Job, token?: string, signal?: AbortSignal): Promise<unknown> => {
    const started = performance.now();
    const type = job.name;
    const jobLog = log.child({ jobId: job.id, type, attempt: job.attemptsMade + 1 });
    let outcome: JobOutcome = "failed";
    try {
      const unparseable = unparseableReason(job);
      if (unparseable !== undefined) throw new InvalidJobError(type.slice(0, 64), undefined, unparseable);
      const payload = parseJobByName(type, job.data, options.stores);
      checkHost(queue, type, payload);
      const handler = handlers[type as JobType] as JobHandler<JobType> | undefined;
      if (handler === undefined) {
        throw new InvalidJobError(type, payload.v, `queue ${queue} does not take ${type} jobs`);
      }
      const out = await handler(payload, { job, signal: signal ?? new AbortController().signal, logger: jobLog });
      const result = jobResult(type as JobType, out as Omit<JobResult<JobType>, "v">);
      outcome = "completed";
      if (metrics) countResult(metrics, queue, type, result);
      return result;
    } catch (err) {
      // The handler moved its job on purpose (a parent now waiting for the
      // children it just added, or a job put off till later): BullMQ takes
      // these errors as "moved", not as failures, and so do we.
      if (err instanceof WaitingChildrenError || err instanceof DelayedError) {
        outcome = err instanceof WaitingChildrenError ? "waiting_children" : "delayed";
        jobLog.debug(outcome === "delayed" ? "job delayed" : "job waiting for its children");
        throw err;
      }
      if (handingBack && signal?.aborted && token !== undefined) {
        // Shutdown aborted this job: put it back at the head of its queue
        // without spending an attempt, and tell BullMQ it has been moved.
        await job.moveToWait(token);
        handedBack++;
        outcome = "handed_back";
        jobLog.warn("shutdown: job handed back to the queue");
        throw new WaitingError();
      }
      if (isUnrecoverable(err)) {
        outcome = err instanceof InvalidJobError ? "invalid" : "failed";
        jobLog.error({ err }, "job failed, not retrying");
        throw err instanceof UnrecoverableError ? err : new UnrecoverableError(describe(err));
      }
      const attempts = job.opts.attempts ?? 1;
      outcome = job.attemptsMade + 1 < attempts ? "retrying" : "failed";
      jobLog.warn({ err }, outcome === "retrying" ? "job failed, will retry" : "job failed, attempts used up");
      throw err;
    } finally {
      const labels = { queue, type: knownType(type), state: outcome };
      metrics?.jobs.inc(labels);
      metrics?.jobSeconds.observe(labels, (performance.now() - started) / 1000);
    }
  };

  const worker = new ParsingWorker(queue, processor, {
    connection: options.connection,
    prefix: bullPrefix(options.prefix),
    concurrency: options.concurrency ?? 1,
    lockDuration: stall.lockDuration,
    stalledInterval: stall.stalledInterval,
    maxStalledCount: stall.maxStalledCount,
    ...(options.name !== undefined ? { name: options.name } : {}),
  });
  worker.on("error", (err) => log.error({ err }, "worker error"));
  worker.on("stalled", (jobId) => {
    metrics?.jobs.inc({ queue, type: "unknown", state: "stalled" });
    log.warn({ jobId }, "stalled job moved back to wait");
  });

  let stopping: Promise<ShutdownOutcome> | undefined;
  const stop = (): Promise<ShutdownOutcome> => {
    stopping ??= (async () => {
      log.info({ graceMs }, "shutdown: no new jobs; waiting for jobs in hand");
      const closed = worker.close();
      if (!(await settlesWithin(closed, graceMs))) {
        handingBack = true;
        log.warn("shutdown: grace period over; aborting jobs in hand");
        worker.cancelAllJobs("shutdown");
        if (!(await settlesWithin(closed, handBackMs))) {
          log.error("shutdown: a job ignored its abort signal; it will return via stalled-job recovery");
          return "abandoned";
        }
      }
      const outcome: ShutdownOutcome = handedBack > 0 ? "handed-back" : "finished";
      log.info({ outcome }, "shutdown complete");
      return outcome;
    })();
    return stopping;
  };

  let resolveStopped!: (outcome: ShutdownOutcome) => void;
  const stopped = new Promise<ShutdownOutcome>((resolve) => (resolveStopped = resolve));
  const stopAndReport = () => stop().then(resolveStopped);
  if (options.signal?.aborted) void stopAndReport();
  else options.signal?.addEventListener("abort", () => void stopAndReport(), { once: true });

  return {
    worker,
    stop: () => {
      void stopAndReport();
      return stopped;
    },
    stopped,
  };
}

/**
 * A host-bound job runs only on the host its payload names: a job pushed to
 * another host's queue (by mistake or on purpose) would otherwise save,
 * restore or migrate a domain of this host that nobody asked about.
 */
function checkHost(queue: string, type: string, payload: { v: number }): void {
  const own = hostOfQueue(queue);
  const named = (payload as { host?: unknown }).host;
  if (own === undefined || named === undefined || named === own) return;
  throw new InvalidJobError(type, payload.v, `the job is for host ${String(named)}, but this worker serves ${own}`);
}

/** True for BullMQ's UnrecoverableError and for any error that says so (XenfleetError does). */
export function isUnrecoverable(err: unknown): boolean {
  if (err instanceof UnrecoverableError) return true;
  return typeof err === "object" && err !== null && (err as { unrecoverable?: unknown }).unrecoverable === true;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? `[${code}] ${err.message}` : err.message;
}

/**
 * Byte counters, pauses and migration figures come from results, so no
 * handler has to remember to feed them: a result is what the job did.
 */
function countResult(metrics: FleetMetrics, queue: string, type: string, result: unknown): void {
  const host = hostOfQueue(queue) ?? "";
  if (type === "save") {
    const r = result as JobResult<"save">;
    metrics.bytesSaved.inc({ host }, r.bytesTotal);
    metrics.bytesNew.inc({ host }, r.bytesNew);
    if (r.pausedMs !== undefined) metrics.savePausedSeconds.observe({ host }, r.pausedMs / 1000);
  } else if (type === "restore") {
    metrics.bytesRestored.inc({ host }, (result as JobResult<"restore">).bytesRestored);
  } else if (type === "migrate-send") {
    const r = result as JobResult<"migrate-send">;
    const labels = { host, mode: r.mode ?? "live" };
    if (r.downtimeMs !== undefined) metrics.migrationDowntimeSeconds.observe(labels, r.downtimeMs / 1000);
    metrics.migrationSeconds.observe(labels, r.seconds);
    metrics.migrationSentBytes.observe(labels, r.bytesSent);
  } else if (type === "compress") {
    const r = result as JobResult<"compress">;
    metrics.compressReadBytes.inc(r.bytesIn);
    metrics.compressWrittenBytes.inc(r.bytesOut);
  } else if (type === "verify") {
    metrics.verifyReadBytes.inc((result as JobResult<"verify">).bytes);
  }
}

/** Metric labels take only known job types, so a flood of junk names cannot explode cardinality. */
function knownType(name: string): string {
  return Object.hasOwn(JOB_SPECS, name) ? name : "unknown";
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

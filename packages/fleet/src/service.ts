/**
 * What every worker process sets up around its worker, the same way in each:
 * a logger named after the service (and host), the signal that SIGTERM and
 * SIGINT abort, a Prometheus registry served on the configured port (none
 * when the port is 0, a free one when "auto") with a /healthz that asks
 * Redis and the stores, an entry in the service registry saying where its
 * metrics are, and an orderly close once the worker has stopped.
 */
import {
  ConfigError,
  createLogger,
  createRedis,
  runWorker,
  terminationSignal,
  type FleetEnv,
  type FleetMetrics,
  type JobHandlers,
  type Logger,
  type ShutdownOutcome,
} from "@xenfleet/jobs";
import { InvalidStoreUrlError } from "@xenfleet/store";
import { checkStoresHealth, startServiceEndpoint } from "./service-endpoint.js";
import type { Stores } from "./stores.js";
import { EXIT_CONFIG } from "./supervisor.js";

export interface ServiceOptions {
  /** e.g. "save-worker"; the `service` field of every log line and metric. */
  name: string;
  /** The host a host-bound worker serves; labels its logs and metrics. */
  host?: string;
  /** The service's validated configuration (the fleet-wide part of it). */
  config: Pick<
    FleetEnv,
    "XENFLEET_REDIS" | "XENFLEET_PREFIX" | "XENFLEET_LOG_LEVEL" | "XENFLEET_METRICS_PORT" | "XENFLEET_METRICS_BIND"
  >;
}

export interface Service {
  /** The service's name, as given to startService. */
  name: string;
  logger: Logger;
  /** Aborted by the first SIGTERM or SIGINT: hand it to runWorker. */
  signal: AbortSignal;
  metrics: FleetMetrics;
  /** Where /metrics and /healthz are served, if they are. */
  metricsPort: number | undefined;
  /** The URL of /metrics as registered for scrapers, if served. */
  metricsUrl: string | undefined;
  /** /healthz also fails while `check` throws (or takes longer than two seconds): e.g. a store out of reach. */
  addHealthCheck(check: () => Promise<void>): void;
  /**
   * After the worker has stopped: runs `closers` in order (a failing one does
   * not keep the others from running), closes the metrics endpoint and logs
   * how the worker stopped.
   */
  close(outcome: ShutdownOutcome, closers?: Array<() => Promise<unknown>>): Promise<void>;
}

export async function startService(options: ServiceOptions): Promise<Service> {
  const { name, host, config } = options;
  const base = createLogger({ service: name, level: config.XENFLEET_LOG_LEVEL });
  const logger = host === undefined ? base : base.child({ host });
  const signal = terminationSignal();
  const endpoint = await startServiceEndpoint({
    name,
    ...(host === undefined ? {} : { host }),
    redisUrl: config.XENFLEET_REDIS,
    prefix: config.XENFLEET_PREFIX,
    port: config.XENFLEET_METRICS_PORT,
    bind: config.XENFLEET_METRICS_BIND,
    signal,
    onError: (err: unknown) => logger.debug({ err }, "could not renew the service registration"),
  });
  return {
    name: host === undefined ? name : `${name}@${host}`,
    logger,
    signal,
    metrics: endpoint.metrics,
    metricsPort: endpoint.metricsPort,
    metricsUrl: endpoint.metricsUrl,
    addHealthCheck: endpoint.addHealthCheck,
    close: async (outcome, closers = []) => {
      for (const close of closers) {
        await close().catch((err: unknown) => logger.warn({ err }, "error while closing"));
      }
      await endpoint.close();
      logger.info({ outcome }, "stopped");
    },
  };
}

/**
 * A service's configuration, or, when it is wrong, one line on stderr naming
 * each bad variable and exit EXIT_CONFIG: a supervisor does not restart it,
 * since it would fail the same way again, and an operator reads the reason
 * instead of a stack trace.
 */
export function loadServiceConfig<C>(name: string, load: () => C): C {
  try {
    return load();
  } catch (err) {
    // A store URL that cannot be used (half a key pair, say) is as wrong a setting as any.
    if (!(err instanceof ConfigError || err instanceof InvalidStoreUrlError)) throw err;
    process.stderr.write(`${name}: ${err.message} (${err.code})\n`);
    process.exit(EXIT_CONFIG);
  }
}

/** One queue a service serves: its own Redis connection and worker. */
export interface QueueSpec {
  queue: string;
  handlers: JobHandlers;
  concurrency: number;
}

export interface ServeQueuesOptions {
  redisUrl: string;
  prefix: string;
  queues: QueueSpec[];
  /** The stores jobs may name; an old payload's store URL must be that of one of them. */
  stores?: Stores;
  /** Run in order once every worker has stopped, before the workers' connections close. */
  closers?: Array<() => Promise<unknown>>;
}

/**
 * Serves the queues (a worker each, on a connection each, so one queue's
 * blocking reads never wait behind another's) until the service's signal
 * stops them, then closes everything. The worst outcome of the workers is
 * the service's: one abandoned job makes the process's shutdown abandoned.
 */
export async function serveQueues(service: Service, options: ServeQueuesOptions): Promise<void> {
  if (options.stores !== undefined) checkStoresHealth(service, options.stores);
  const handles = options.queues.map((spec) => {
    const connection = createRedis(options.redisUrl, "worker", `${service.name}:${spec.queue}`);
    const handle = runWorker({
      queue: spec.queue,
      connection,
      prefix: options.prefix,
      logger: service.logger,
      metrics: service.metrics,
      signal: service.signal,
      concurrency: spec.concurrency,
      name: `${service.name}:${spec.queue}`,
      handlers: spec.handlers,
      ...(options.stores === undefined ? {} : { stores: options.stores }),
    });
    return { connection, handle };
  });
  const outcomes = await Promise.all(handles.map((h) => h.handle.stopped));
  const outcome: ShutdownOutcome = outcomes.includes("abandoned")
    ? "abandoned"
    : outcomes.includes("handed-back")
      ? "handed-back"
      : "finished";
  await service.close(outcome, [...(options.closers ?? []), ...handles.map((h) => () => h.connection.quit())]);
}

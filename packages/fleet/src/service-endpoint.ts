/**
 * What makes a process one of the fleet's services to an operator: a
 * Prometheus registry served on a port (none for 0, a free one for "auto")
 * with a /healthz that asks Redis and whatever else the process depends on,
 * and an entry in the service registry saying where its metrics are, so
 * that `xenfleet status` lists it and `xenfleet up` prints it.
 */
import { hostname } from "node:os";
import {
  createMetrics,
  createRedis,
  newServiceEntry,
  runServiceRegistration,
  serveMetrics,
  type FleetMetrics,
  type Health,
} from "@xenfleet/jobs";
import { probeStore } from "./store-probe.js";
import type { Stores } from "./stores.js";

/** How often a service renews its registry entry (it lives three times as long). */
const REGISTRATION_INTERVAL_MS = 5000;
/** How long /healthz waits for Redis and for each other check. */
const HEALTH_TIMEOUT_MS = 2000;

export interface ServiceEndpointOptions {
  /** e.g. "save-worker": its registry entry and the `service` label of every metric. */
  name: string;
  /** The host a host-bound worker serves: its registry entry and the `host` label. */
  host?: string;
  redisUrl: string;
  prefix: string;
  /** 0: no endpoint (the process still registers); "auto": a free port. */
  port: number | "auto";
  bind: string;
  /** /healthz answers "shutting down" once this is aborted. */
  signal?: AbortSignal;
  onError?: (err: unknown) => void;
}

export interface ServiceEndpoint {
  metrics: FleetMetrics;
  /** Where /metrics and /healthz are served, if they are. */
  metricsPort: number | undefined;
  /** The URL of /metrics as registered for scrapers, if served. */
  metricsUrl: string | undefined;
  /** /healthz also fails while `check` throws (or takes longer than two seconds): e.g. a store out of reach. */
  addHealthCheck(check: () => Promise<void>): void;
  /** Leaves the registry, then closes the endpoint. */
  close(): Promise<void>;
}

export async function startServiceEndpoint(options: ServiceEndpointOptions): Promise<ServiceEndpoint> {
  const { name, host, signal } = options;
  const metrics = createMetrics({ labels: host === undefined ? { service: name } : { service: name, host } });
  const redis = createRedis(options.redisUrl, "producer", `${name}${host ? `@${host}` : ""}:registry`);
  const checks: Array<() => Promise<void>> = [
    () => within(redis.ping(), HEALTH_TIMEOUT_MS, "Redis did not answer PING").then(() => undefined),
  ];
  const health = async (): Promise<Health> => {
    if (signal?.aborted) return { ok: false, reason: "shutting down" };
    const failed = (await Promise.allSettled(checks.map((check) => check()))).filter(
      (r): r is PromiseRejectedResult => r.status === "rejected",
    );
    if (failed.length === 0) return { ok: true };
    return { ok: false, reason: failed.map((f) => (f.reason as Error).message ?? String(f.reason)).join("; ") };
  };
  const server =
    options.port !== 0
      ? await serveMetrics({
          registry: metrics.registry,
          port: options.port === "auto" ? 0 : options.port,
          host: options.bind,
          health,
        })
      : undefined;
  const metricsUrl = server === undefined ? undefined : `http://${reachableAs(options.bind)}:${server.port}/metrics`;
  const registration = new AbortController();
  const registered = runServiceRegistration({
    redis,
    prefix: options.prefix,
    entry: newServiceEntry({
      service: name,
      ...(host === undefined ? {} : { host }),
      ...(metricsUrl === undefined ? {} : { metricsUrl }),
    }),
    intervalMs: REGISTRATION_INTERVAL_MS,
    signal: registration.signal,
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  });
  return {
    metrics,
    metricsPort: server?.port,
    metricsUrl,
    addHealthCheck: (check) => checks.push(() => within(check(), HEALTH_TIMEOUT_MS, "a health check timed out")),
    close: async () => {
      registration.abort();
      await registered;
      redis.disconnect();
      await server?.close().catch(() => undefined);
    },
  };
}

/** The endpoint's /healthz fails while one of `stores` cannot be reached. */
export function checkStoresHealth(endpoint: Pick<ServiceEndpoint, "addHealthCheck">, stores: Stores): void {
  for (const name of stores.names) endpoint.addHealthCheck(() => probeStore(stores, name, HEALTH_TIMEOUT_MS));
}

/** The address others reach a listener bound to `bind` at: this machine's name for a wildcard bind. */
function reachableAs(bind: string): string {
  if (bind === "0.0.0.0" || bind === "::") return hostname();
  return bind.includes(":") ? `[${bind}]` : bind;
}

/** `promise`, or a rejection with `message` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

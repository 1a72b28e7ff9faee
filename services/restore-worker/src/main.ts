#!/usr/bin/env node
/**
 * restore-worker: runs the restore jobs of one host (queue restore@<host>)
 * against the host's hypervisor. The host's heartbeat comes from its save
 * worker, which also publishes the domains restored here on its next beat.
 */
import { openHypervisor, Stores } from "@xenfleet/fleet";
import { createLogger, createMetrics, createRedis, hostQueue, runWorker, serveMetrics, terminationSignal } from "@xenfleet/jobs";
import { loadConfig } from "./config.js";
import { restoreHandler } from "./handler.js";

const config = loadConfig();
const host = config.XENFLEET_HOST;
const logger = createLogger({ service: "restore-worker", level: config.XENFLEET_LOG_LEVEL }).child({ host });
const signal = terminationSignal();

const hypervisor = await openHypervisor({
  kind: config.XENFLEET_HYPERVISOR,
  host,
  simDir: config.XENFLEET_SIM_DIR,
  simMemoryBytes: config.XENFLEET_SIM_MEMORY,
});
const connection = createRedis(config.XENFLEET_REDIS, "worker", `restore-worker@${host}`);
const stores = new Stores(config);
const metrics = createMetrics({ labels: { service: "restore-worker", host } });
const server =
  config.XENFLEET_METRICS_PORT > 0
    ? await serveMetrics({ registry: metrics.registry, port: config.XENFLEET_METRICS_PORT, healthy: () => !signal.aborted })
    : undefined;

const worker = runWorker({
  queue: hostQueue("restore", host),
  connection,
  prefix: config.XENFLEET_PREFIX,
  logger,
  metrics,
  signal,
  concurrency: config.XENFLEET_CONCURRENCY,
  name: `restore-worker@${host}`,
  handlers: { restore: restoreHandler({ host, hypervisor, stores }) },
});
logger.info({ queue: hostQueue("restore", host), hypervisor: hypervisor.kind, metricsPort: server?.port }, "restore worker started");

const outcome = await worker.stopped;
await stores.close();
await server?.close();
await connection.quit().catch(() => undefined);
logger.info({ outcome }, "restore worker stopped");

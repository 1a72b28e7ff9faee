#!/usr/bin/env node
/**
 * compress-worker: stateless; takes compress jobs from the shared compress
 * queue. Run any number of them, anywhere that reaches Redis and the store:
 * throughput grows with their count.
 */
import { Stores } from "@xenfleet/fleet";
import { COMPRESS_QUEUE, createLogger, createMetrics, createRedis, runWorker, serveMetrics, terminationSignal } from "@xenfleet/jobs";
import { loadConfig } from "./config.js";
import { compressHandler } from "./handler.js";

const config = loadConfig();
const logger = createLogger({ service: "compress-worker", level: config.XENFLEET_LOG_LEVEL });
const signal = terminationSignal();

const connection = createRedis(config.XENFLEET_REDIS, "worker", "compress-worker");
const stores = new Stores(config);
const metrics = createMetrics({ labels: { service: "compress-worker" } });
const server =
  config.XENFLEET_METRICS_PORT > 0
    ? await serveMetrics({ registry: metrics.registry, port: config.XENFLEET_METRICS_PORT, healthy: () => !signal.aborted })
    : undefined;

const worker = runWorker({
  queue: COMPRESS_QUEUE,
  connection,
  prefix: config.XENFLEET_PREFIX,
  logger,
  metrics,
  signal,
  concurrency: config.XENFLEET_CONCURRENCY,
  name: "compress-worker",
  handlers: { compress: compressHandler(stores) },
});
logger.info({ queue: COMPRESS_QUEUE, metricsPort: server?.port }, "compress worker started");

const outcome = await worker.stopped;
await stores.close();
await server?.close();
await connection.quit().catch(() => undefined);
logger.info({ outcome }, "compress worker stopped");

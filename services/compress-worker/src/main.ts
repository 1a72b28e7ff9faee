#!/usr/bin/env node
/**
 * compress-worker: stateless; takes compress jobs from the shared compress
 * queue. Run any number of them, anywhere that reaches Redis and the store:
 * throughput grows with their count.
 */
import { startService, Stores } from "@xenfleet/fleet";
import { COMPRESS_QUEUE, createRedis, runWorker } from "@xenfleet/jobs";
import { loadConfig } from "./config.js";
import { compressHandler } from "./handler.js";

const config = loadConfig();
const service = await startService({ name: "compress-worker", config });
const connection = createRedis(config.XENFLEET_REDIS, "worker", "compress-worker");
const stores = new Stores(config);

const worker = runWorker({
  queue: COMPRESS_QUEUE,
  connection,
  prefix: config.XENFLEET_PREFIX,
  logger: service.logger,
  metrics: service.metrics,
  signal: service.signal,
  concurrency: config.XENFLEET_CONCURRENCY,
  name: "compress-worker",
  handlers: { compress: compressHandler(stores) },
});
service.logger.info({ queue: COMPRESS_QUEUE, metricsPort: service.metricsPort }, "compress worker started");

await service.close(await worker.stopped, [() => stores.close(), () => connection.quit()]);

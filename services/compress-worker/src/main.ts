#!/usr/bin/env node
/**
 * compress-worker: stateless; takes compress and verify jobs (verification
 * is reading and hashing, and scales out the same way) from the shared
 * compress queue. Run any number of them, anywhere that reaches Redis and
 * the store: throughput grows with their count.
 */
import { compressHandler, loadServiceConfig, serveQueues, startService, Stores, verifyHandler } from "@xenfleet/fleet";
import { COMPRESS_QUEUE } from "@xenfleet/jobs";
import { loadConfig } from "./config.js";

const config = loadServiceConfig("compress-worker", () => loadConfig());
const service = await startService({ name: "compress-worker", config });
const stores = loadServiceConfig("compress-worker", () => new Stores(config).checkKeyFiles());
service.logger.info({ queue: COMPRESS_QUEUE, metricsPort: service.metricsPort }, "compress worker started");

await serveQueues(service, {
  redisUrl: config.XENFLEET_REDIS,
  prefix: config.XENFLEET_PREFIX,
  stores,
  queues: [
    {
      queue: COMPRESS_QUEUE,
      concurrency: config.XENFLEET_CONCURRENCY,
      handlers: { compress: compressHandler(stores), verify: verifyHandler(stores) },
    },
  ],
  closers: [() => stores.close()],
});

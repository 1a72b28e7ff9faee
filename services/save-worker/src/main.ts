#!/usr/bin/env node
/**
 * save-worker: runs the save jobs of one host (queue save@<host>) against the
 * host's hypervisor, and is the host's agent: it publishes the host's memory
 * and domains with a heartbeat, so the host is "up" exactly while this
 * process is alive.
 */
import { Queue } from "bullmq";
import {
  hostHypervisor,
  saveHandler,
  serveQueues,
  startHostAgent,
  startService,
  Stores,
  loadServiceConfig,
} from "@xenfleet/fleet";
import { bullPrefix, COMPRESS_QUEUE, createRedis, hostQueue } from "@xenfleet/jobs";
import { loadConfig } from "./config.js";

const config = loadServiceConfig("save-worker", () => loadConfig());
const host = config.XENFLEET_HOST;
const prefix = config.XENFLEET_PREFIX;
const service = await startService({ name: "save-worker", host, config });
const { logger } = service;

const hypervisor = await hostHypervisor(config);
const producer = createRedis(config.XENFLEET_REDIS, "producer", `save-worker@${host}:producer`);
const stores = loadServiceConfig("save-worker", () => new Stores(config).checkKeyFiles());
const compressQueue = new Queue(COMPRESS_QUEUE, { connection: producer, prefix: bullPrefix(prefix) });

const agent = startHostAgent({ redis: producer, prefix, hypervisor, config, logger });
const queue = hostQueue("save", host);
logger.info({ queue, hypervisor: hypervisor.kind, metricsPort: service.metricsPort }, "save worker started");

await serveQueues(service, {
  redisUrl: config.XENFLEET_REDIS,
  prefix,
  stores,
  queues: [
    {
      queue,
      concurrency: config.XENFLEET_CONCURRENCY,
      handlers: {
        save: saveHandler({
          hypervisor,
          stores,
          redis: producer,
          prefix,
          compressQueue,
          compressLevel: config.XENFLEET_COMPRESS_LEVEL,
        }),
      },
    },
  ],
  closers: [() => agent.stop(), () => compressQueue.close(), () => stores.close(), () => producer.quit()],
});

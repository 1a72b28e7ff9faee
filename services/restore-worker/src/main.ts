#!/usr/bin/env node
/**
 * restore-worker: runs the restore and health-check jobs of one host (queue
 * restore@<host>) against the host's hypervisor. The host's heartbeat comes
 * from its save worker; a restore publishes the host's domains itself once
 * its domain runs.
 */
import {
  healthCheckHandler,
  hostHypervisor,
  loadServiceConfig,
  restoreHandler,
  serveQueues,
  startService,
  Stores,
} from "@xenfleet/fleet";
import { createRedis, hostQueue } from "@xenfleet/jobs";
import { loadConfig } from "./config.js";

const config = loadServiceConfig("restore-worker", () => loadConfig());
const host = config.XENFLEET_HOST;
const service = await startService({ name: "restore-worker", host, config });
const hypervisor = await hostHypervisor(config);
const stores = loadServiceConfig("restore-worker", () => new Stores(config).checkKeyFiles());
const producer = createRedis(config.XENFLEET_REDIS, "producer", `restore-worker@${host}:producer`);
const queue = hostQueue("restore", host);
service.logger.info({ queue, hypervisor: hypervisor.kind, metricsPort: service.metricsPort }, "restore worker started");

await serveQueues(service, {
  redisUrl: config.XENFLEET_REDIS,
  prefix: config.XENFLEET_PREFIX,
  stores,
  queues: [
    {
      queue,
      concurrency: config.XENFLEET_CONCURRENCY,
      handlers: {
        restore: restoreHandler({ host, hypervisor, stores, redis: producer, prefix: config.XENFLEET_PREFIX }),
        "health-check": healthCheckHandler({ host, hypervisor, stores }),
      },
    },
  ],
  closers: [() => stores.close(), () => producer.quit()],
});

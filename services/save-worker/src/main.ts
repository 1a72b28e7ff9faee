#!/usr/bin/env node
/**
 * save-worker: runs the save jobs of one host (queue save@<host>) against the
 * host's hypervisor, and is the host's agent: it publishes the host's memory
 * and domains with a heartbeat, so the host is "up" exactly while this
 * process is alive.
 */
import { Queue } from "bullmq";
import { openHypervisor, runHostAgent, saveHandler, serveQueues, startService, Stores } from "@xenfleet/fleet";
import { bullPrefix, COMPRESS_QUEUE, createRedis, hostQueue, keys } from "@xenfleet/jobs";
import { loadConfig } from "./config.js";

const config = loadConfig();
const host = config.XENFLEET_HOST;
const prefix = config.XENFLEET_PREFIX;
const service = await startService({ name: "save-worker", host, config });
const { logger } = service;

const hypervisor = await openHypervisor({
  kind: config.XENFLEET_HYPERVISOR,
  host,
  simDir: config.XENFLEET_SIM_DIR,
  simMemoryBytes: config.XENFLEET_SIM_MEMORY,
});
const producer = createRedis(config.XENFLEET_REDIS, "producer", `save-worker@${host}:producer`);
const stores = new Stores(config);
const compressQueue = new Queue(COMPRESS_QUEUE, { connection: producer, prefix: bullPrefix(prefix) });

// The heartbeat outlives the worker's shutdown signal: while a save in hand
// finishes, the host is still up.
const agentStop = new AbortController();
const agent = runHostAgent({
  redis: producer,
  prefix,
  hypervisor,
  identity: { id: host, address: config.XENFLEET_HOST_ADDRESS, tags: config.XENFLEET_HOST_TAGS },
  intervalMs: config.XENFLEET_HEARTBEAT_MS,
  signal: agentStop.signal,
  onError: (err) => logger.warn({ err }, "heartbeat failed"),
});
const queue = hostQueue("save", host);
logger.info({ queue, hypervisor: hypervisor.kind, metricsPort: service.metricsPort }, "save worker started");

await serveQueues(service, {
  redisUrl: config.XENFLEET_REDIS,
  prefix,
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
  closers: [
    () => {
      agentStop.abort();
      return agent;
    },
    // A host that stops on purpose is down now, not when its heartbeat expires.
    () => producer.del(keys.alive(prefix, host)),
    () => compressQueue.close(),
    () => stores.close(),
    () => producer.quit(),
  ],
});

#!/usr/bin/env node
/**
 * controller: takes the fleet-wide work on the controller queue (batch
 * reports and scheduled batch expansion, retention, GC), keeps the recurring
 * schedules in Redis, and publishes the save concurrency limits that batch
 * expansion and the save workers honour. Run one or more; they share the queue.
 */
import { Stores, scheduleGc, scheduleNightly, scheduleRetention, setLimits, startService } from "@xenfleet/fleet";
import { CONTROLLER_QUEUE, createRedis, runWorker } from "@xenfleet/jobs";
import { runEvacuation } from "@xenfleet/migration";
import { batchSaveHandler } from "./batch-handler.js";
import { loadConfig } from "./config.js";
import { gcHandler, retentionHandler } from "./maintenance-handlers.js";

const config = loadConfig();
const prefix = config.XENFLEET_PREFIX;
const service = await startService({ name: "controller", config });
const { logger } = service;

const connection = createRedis(config.XENFLEET_REDIS, "worker", "controller");
const producer = createRedis(config.XENFLEET_REDIS, "producer", "controller:producer");
const stores = new Stores(config);

await setLimits(producer, prefix, { hostSaves: config.XENFLEET_HOST_SAVES, fleetSaves: config.XENFLEET_FLEET_SAVES });
const store = config.XENFLEET_STORE;
if (config.XENFLEET_NIGHTLY_CRON !== undefined) {
  await scheduleNightly(
    producer,
    prefix,
    { cron: config.XENFLEET_NIGHTLY_CRON },
    { store, mode: config.XENFLEET_NIGHTLY_MODE },
  );
}
await scheduleRetention(
  producer,
  prefix,
  { cron: config.XENFLEET_RETENTION_CRON },
  {
    store,
    keep: { nightly: config.XENFLEET_KEEP_NIGHTLY, weekly: config.XENFLEET_KEEP_WEEKLY },
    dryRun: false,
  },
);
await scheduleGc(
  producer,
  prefix,
  { cron: config.XENFLEET_GC_CRON },
  { store, graceSeconds: config.XENFLEET_GC_GRACE_SECONDS, dryRun: false },
);

const worker = runWorker({
  queue: CONTROLLER_QUEUE,
  connection,
  prefix,
  logger,
  metrics: service.metrics,
  signal: service.signal,
  concurrency: config.XENFLEET_CONCURRENCY,
  name: "controller",
  handlers: {
    "batch-save": batchSaveHandler({ redis: producer, prefix, compress: config.XENFLEET_COMPRESS }),
    retention: retentionHandler(stores),
    gc: gcHandler(stores),
    evacuate: (payload, ctx) => runEvacuation(producer, prefix, payload, { job: ctx.job, signal: ctx.signal }),
  },
});
logger.info({ queue: CONTROLLER_QUEUE, metricsPort: service.metricsPort }, "controller started");

await service.close(await worker.stopped, [() => stores.close(), () => connection.quit(), () => producer.quit()]);

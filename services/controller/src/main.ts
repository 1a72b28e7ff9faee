#!/usr/bin/env node
/**
 * controller: takes the fleet-wide work on the controller queue (batch
 * reports and scheduled batch expansion, evacuations, retention, GC, verify
 * runs and their gauges), keeps the recurring schedules in Redis, and
 * publishes the save concurrency limits that batch expansion and the save
 * workers honour. Run one or more; they share the queue.
 */
import {
  batchSaveHandler,
  evacuateHandler,
  gcHandler,
  loadServiceConfig,
  registerFleetGauges,
  retentionHandler,
  scheduleGc,
  scheduleNightly,
  scheduleRetention,
  serveQueues,
  setLimits,
  startService,
  Stores,
  verifyRunHandler,
} from "@xenfleet/fleet";
import { CONTROLLER_QUEUE, createRedis, createVerifyGauges } from "@xenfleet/jobs";
import { type Config, loadConfig } from "./config.js";

const config: Config = loadServiceConfig("controller", () => loadConfig());
const prefix = config.XENFLEET_PREFIX;
const service = await startService({ name: "controller", config });
const producer = createRedis(config.XENFLEET_REDIS, "producer", "controller:producer");
const stores = loadServiceConfig("controller", () => new Stores(config).checkKeyFiles());

// The fleet's state (hosts, queues, last good images) on the controller's /metrics.
registerFleetGauges(service.metrics.registry, { redis: producer, prefix, stores });
await setLimits(producer, prefix, { hostSaves: config.XENFLEET_HOST_SAVES, fleetSaves: config.XENFLEET_FLEET_SAVES });
// Scheduled jobs name a store: "main" when XENFLEET_STORE gives the one store, else the first XENFLEET_STORES lists.
const store = stores.names[0]!;
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
  { store, keep: { nightly: config.XENFLEET_KEEP_NIGHTLY, weekly: config.XENFLEET_KEEP_WEEKLY }, dryRun: false },
);
await scheduleGc(
  producer,
  prefix,
  { cron: config.XENFLEET_GC_CRON },
  { store, graceSeconds: config.XENFLEET_GC_GRACE_SECONDS, dryRun: false },
);
service.logger.info({ queue: CONTROLLER_QUEUE, metricsPort: service.metricsPort }, "controller started");

await serveQueues(service, {
  redisUrl: config.XENFLEET_REDIS,
  prefix,
  stores,
  queues: [
    {
      queue: CONTROLLER_QUEUE,
      concurrency: config.XENFLEET_CONCURRENCY,
      handlers: {
        "batch-save": batchSaveHandler({ redis: producer, prefix, compress: config.XENFLEET_COMPRESS }),
        retention: retentionHandler(stores),
        gc: gcHandler(stores),
        evacuate: evacuateHandler({ redis: producer, prefix }),
        "verify-run": verifyRunHandler({
          redis: producer,
          prefix,
          stores,
          onCounts: createVerifyGauges(service.metrics.registry),
        }),
      },
    },
  ],
  closers: [() => stores.close(), () => producer.quit()],
});

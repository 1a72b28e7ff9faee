#!/usr/bin/env node
/**
 * restore-worker: runs the restore jobs of one host (queue restore@<host>)
 * against the host's hypervisor. The host's heartbeat comes from its save
 * worker, which also publishes the domains restored here on its next beat.
 */
import { openHypervisor, startService, Stores } from "@xenfleet/fleet";
import { createRedis, hostQueue, runWorker } from "@xenfleet/jobs";
import { loadConfig } from "./config.js";
import { restoreHandler } from "./handler.js";

const config = loadConfig();
const host = config.XENFLEET_HOST;
const service = await startService({ name: "restore-worker", host, config });

const hypervisor = await openHypervisor({
  kind: config.XENFLEET_HYPERVISOR,
  host,
  simDir: config.XENFLEET_SIM_DIR,
  simMemoryBytes: config.XENFLEET_SIM_MEMORY,
});
const connection = createRedis(config.XENFLEET_REDIS, "worker", `restore-worker@${host}`);
const stores = new Stores(config);

const worker = runWorker({
  queue: hostQueue("restore", host),
  connection,
  prefix: config.XENFLEET_PREFIX,
  logger: service.logger,
  metrics: service.metrics,
  signal: service.signal,
  concurrency: config.XENFLEET_CONCURRENCY,
  name: `restore-worker@${host}`,
  handlers: { restore: restoreHandler({ host, hypervisor, stores }) },
});
service.logger.info(
  { queue: hostQueue("restore", host), hypervisor: hypervisor.kind, metricsPort: service.metricsPort },
  "restore worker started",
);

await service.close(await worker.stopped, [() => stores.close(), () => connection.quit()]);

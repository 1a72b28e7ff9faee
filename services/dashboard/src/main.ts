#!/usr/bin/env node
/**
 * dashboard: the fleet's web pages (hosts, domains, batches, evacuations,
 * images) for whoever holds XENFLEET_DASHBOARD_TOKEN, until SIGTERM.
 */
import { startDashboard } from "@xenfleet/dashboard";
import { loadServiceConfig, Stores } from "@xenfleet/fleet";
import { createLogger, terminationSignal } from "@xenfleet/jobs";
import { type Config, loadConfig } from "./config.js";

const config: Config = loadServiceConfig("dashboard", () => loadConfig());
const logger = createLogger({ service: "dashboard", level: config.XENFLEET_LOG_LEVEL });
const stores = loadServiceConfig("dashboard", () => new Stores(config));
const signal = terminationSignal();
const dashboard = await startDashboard({
  redisUrl: config.XENFLEET_REDIS,
  prefix: config.XENFLEET_PREFIX,
  stores,
  token: config.XENFLEET_DASHBOARD_TOKEN,
  port: config.XENFLEET_DASHBOARD_PORT,
  bind: config.XENFLEET_DASHBOARD_BIND,
});
logger.info({ url: dashboard.url }, "dashboard started");
await new Promise<void>((done) => signal.addEventListener("abort", () => done(), { once: true }));
await dashboard.close();
await stores.close();
logger.info("stopped");

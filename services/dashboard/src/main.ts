#!/usr/bin/env node
/**
 * dashboard: the fleet's web pages (hosts, domains, batches, evacuations,
 * images) for whoever holds XENFLEET_DASHBOARD_TOKEN, until SIGTERM. Like
 * every service it serves its own metrics and /healthz on
 * XENFLEET_METRICS_PORT and registers itself.
 */
import { startDashboard } from "@xenfleet/dashboard";
import { checkStoresHealth, loadServiceConfig, startService, Stores } from "@xenfleet/fleet";
import { type Config, loadConfig } from "./config.js";

const config: Config = loadServiceConfig("dashboard", () => loadConfig());
const service = await startService({ name: "dashboard", config });
const stores = loadServiceConfig("dashboard", () => new Stores(config).checkKeyFiles());
checkStoresHealth(service, stores);
const dashboard = await startDashboard({
  redisUrl: config.XENFLEET_REDIS,
  prefix: config.XENFLEET_PREFIX,
  stores,
  token: config.XENFLEET_DASHBOARD_TOKEN,
  port: config.XENFLEET_DASHBOARD_PORT,
  bind: config.XENFLEET_DASHBOARD_BIND,
});
service.logger.info({ url: dashboard.url, metricsPort: service.metricsPort }, "dashboard started");
await new Promise<void>((done) => service.signal.addEventListener("abort", () => done(), { once: true }));
await service.close("finished", [() => dashboard.close(), () => stores.close()]);

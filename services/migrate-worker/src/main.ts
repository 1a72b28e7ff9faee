#!/usr/bin/env node
/**
 * migrate-worker: the two halves of migrations on one host. It serves
 * migrate-send@<host> (this host is the source) and migrate-recv@<host>
 * (this host is the target) as two workers, so sends never wait behind
 * receives. Receivers listen on XENFLEET_MIGRATE_BIND and advertise
 * XENFLEET_HOST_ADDRESS through the migration record. At startup it first
 * settles migrations a crashed predecessor left half-done (sweep.ts).
 */
import {
  hostHypervisor,
  migrateHandlers,
  serveQueues,
  startHostAgent,
  startService,
  Stores,
  loadServiceConfig,
} from "@xenfleet/fleet";
import { createRedis, hostQueue } from "@xenfleet/jobs";
import { sweepMigrations, TokenBucket } from "@xenfleet/migration";
import { loadConfig, loadTls } from "./config.js";

const config = loadServiceConfig("migrate-worker", () => loadConfig());
const host = config.XENFLEET_HOST;
const prefix = config.XENFLEET_PREFIX;
const service = await startService({ name: "migrate-worker", host, config });
const { logger } = service;

// Nothing here reads a save report's digest, and hashing a whole domain
// after every migration would hold a send slot and a core for seconds.
const hypervisor = await hostHypervisor(config, { simSaveDigest: false });
const producer = createRedis(config.XENFLEET_REDIS, "producer", `migrate-worker@${host}:producer`);
const stores = loadServiceConfig("migrate-worker", () => new Stores(config).checkKeyFiles());
const { tls, ca } = loadTls(config);

// Usually the save worker is the host's agent; a host without one runs it here.
const agent = config.XENFLEET_MIGRATE_AGENT
  ? startHostAgent({ redis: producer, prefix, hypervisor, config, logger })
  : undefined;

const openStore = (url: string) => stores.get(url);
// Before taking jobs: settle what a crashed predecessor on this host left half-done.
const swept = await sweepMigrations(producer, prefix, host, { hypervisor, openStore }, (migrationId, err) =>
  logger.error({ err, migrationId }, "could not settle a migration left by an earlier worker"),
);
for (const s of swept) logger.warn(s, "settled a migration left by an earlier worker");

const handlers = migrateHandlers({
  host,
  hypervisor,
  redis: producer,
  prefix,
  bind: { host: config.XENFLEET_MIGRATE_BIND, port: config.XENFLEET_MIGRATE_PORT },
  advertise: config.XENFLEET_HOST_ADDRESS,
  ...(tls ? { tls } : {}),
  ...(ca ? { tlsCa: ca } : {}),
  ...(config.XENFLEET_MIGRATE_BANDWIDTH
    ? { hostLimiter: new TokenBucket({ rate: config.XENFLEET_MIGRATE_BANDWIDTH }) }
    : {}),
  openStore,
  tokenTtlMs: config.XENFLEET_MIGRATE_TOKEN_TTL_MS,
  listenerTimeoutMs: config.XENFLEET_MIGRATE_LISTEN_TIMEOUT_MS,
  stallTimeoutMs: config.XENFLEET_MIGRATE_STALL_TIMEOUT_MS,
});
logger.info(
  {
    hypervisor: hypervisor.kind,
    bind: config.XENFLEET_MIGRATE_BIND,
    tls: tls !== undefined,
    metricsPort: service.metricsPort,
  },
  "migrate worker started",
);

await serveQueues(service, {
  redisUrl: config.XENFLEET_REDIS,
  prefix,
  stores,
  queues: [
    {
      queue: hostQueue("migrate-send", host),
      concurrency: config.XENFLEET_MIGRATE_SEND_CONCURRENCY,
      handlers: { "migrate-send": handlers["migrate-send"] },
    },
    {
      queue: hostQueue("migrate-recv", host),
      concurrency: config.XENFLEET_MIGRATE_RECV_CONCURRENCY,
      handlers: { "migrate-recv": handlers["migrate-recv"] },
    },
  ],
  closers: [async () => agent?.stop(), () => stores.close(), () => producer.quit()],
});

/**
 * The fleet's state as Prometheus gauges, read from Redis at each scrape
 * and from the stores at most once a minute: hosts by state, each queue's depth and the age of its oldest
 * waiting job, each domain's last good image (the first thing an
 * operator alerts on: "no good image for 36 h"), and each store's size and
 * how much its images' streams exceed it (dedup, zero pages and compression
 * together). One scrape reads once, whatever the number of gauges.
 */
import { Queue } from "bullmq";
import {
  bullPrefix,
  COMPRESS_QUEUE,
  CONTROLLER_QUEUE,
  HOST_QUEUE_KINDS,
  hostQueue,
  listHosts,
  type RedisClient,
} from "@xenfleet/jobs";
import { Gauge, type Registry } from "prom-client";
import { domainName, lastGoodImages } from "./image-list.js";
import { imagesOfStores } from "./store-images.js";
import type { Stores } from "./stores.js";

export interface FleetGaugeSource {
  redis: RedisClient;
  prefix: string;
  stores: Stores;
}

interface Reading {
  hosts: Record<"up" | "draining" | "down", number>;
  queues: Array<{ queue: string; waiting: number; oldestSeconds: number }>;
  lastGood: Array<{ domain: string; uuid: string; seconds: number }>;
  usage: StoreUsage[];
}

interface StoreUsage {
  store: string;
  /** Bytes of every object in the store. */
  storedBytes: number;
  /** Bytes the store's images reproduce (their whole streams). */
  imageBytes: number;
}

async function read({ redis, prefix, stores }: FleetGaugeSource): Promise<Reading> {
  const hosts = await listHosts(redis, prefix);
  const counts = { up: 0, draining: 0, down: 0 };
  for (const h of hosts) counts[h.state]++;
  const names = [
    CONTROLLER_QUEUE,
    COMPRESS_QUEUE,
    ...hosts.flatMap((h) => HOST_QUEUE_KINDS.map((k) => hostQueue(k, h.id))),
  ];
  const now = Date.now();
  const queues = await Promise.all(
    names.map(async (name) => {
      const queue = new Queue(name, { connection: redis, prefix: bullPrefix(prefix) });
      try {
        const c = await queue.getJobCounts("waiting", "prioritized");
        // The oldest waiting job is the first in ascending order.
        const [oldest] = await queue.getJobs(["waiting"], 0, 0, true);
        const waiting = (c.waiting ?? 0) + (c.prioritized ?? 0);
        return { queue: name, waiting, oldestSeconds: oldest ? Math.max(0, (now - oldest.timestamp) / 1000) : 0 };
      } finally {
        await queue.close();
      }
    }),
  );
  return { hosts: counts, queues, lastGood: await lastGood(stores), usage: await storeUsage(stores) };
}

/** Listing the stores' images reads every manifest: at most once a minute, not at every scrape. */
const STORE_READ_INTERVAL_MS = 60_000;

async function lastGood(stores: Stores): Promise<Reading["lastGood"]> {
  const listed = await imagesOfStores(stores, STORE_READ_INTERVAL_MS);
  const unreadable = listed.find((s) => s.problem !== undefined);
  if (unreadable !== undefined) throw new Error(`store ${unreadable.store}: ${unreadable.problem}`);
  return [...lastGoodImages(listed.flatMap((s) => s.images))].map(([uuid, i]) => ({
    domain: domainName(i) ?? uuid,
    uuid,
    seconds: i.created.getTime() / 1000,
  }));
}

const usages = new WeakMap<Stores, { at: number; usage: Promise<StoreUsage[]> }>();

/** Each store's size (one listing of its objects) and its images' stream bytes, at most once a minute. */
async function storeUsage(stores: Stores): Promise<StoreUsage[]> {
  const cached = usages.get(stores);
  if (cached !== undefined && Date.now() - cached.at < STORE_READ_INTERVAL_MS) return cached.usage;
  const usage = (async () => {
    const listed = await imagesOfStores(stores, STORE_READ_INTERVAL_MS);
    return Promise.all(
      listed.map(async ({ store, images }) => {
        let storedBytes = 0;
        for await (const object of (await stores.get(store)).list("")) storedBytes += object.size;
        const imageBytes = images.reduce((sum, i) => sum + (i.manifest?.streamBytes ?? 0), 0);
        return { store, storedBytes, imageBytes };
      }),
    );
  })();
  const entry = { at: Date.now(), usage };
  usages.set(stores, entry);
  // A failed reading is tried again at the next scrape.
  usage.catch(() => usages.get(stores) === entry && usages.delete(stores));
  return usage;
}

export function registerFleetGauges(registry: Registry, source: FleetGaugeSource): void {
  let pending: { at: number; reading: Promise<Reading> } | undefined;
  // The gauges of one scrape share one reading.
  const reading = () => {
    if (pending === undefined || Date.now() - pending.at > 1000) pending = { at: Date.now(), reading: read(source) };
    return pending.reading;
  };
  const registers = [registry];
  new Gauge({
    name: "xenfleet_hosts",
    help: "Registered hosts by state (up, draining, down)",
    labelNames: ["state"],
    registers,
    async collect() {
      const r = await reading();
      for (const [state, n] of Object.entries(r.hosts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: "xenfleet_queue_waiting_jobs",
    help: "Jobs waiting to be taken, per queue",
    labelNames: ["queue"],
    registers,
    async collect() {
      this.reset();
      for (const q of (await reading()).queues) this.set({ queue: q.queue }, q.waiting);
    },
  });
  new Gauge({
    name: "xenfleet_queue_oldest_waiting_job_age_seconds",
    help: "How long the oldest waiting job of each queue has waited (0: none waits)",
    labelNames: ["queue"],
    registers,
    async collect() {
      this.reset();
      for (const q of (await reading()).queues) this.set({ queue: q.queue }, q.oldestSeconds);
    },
  });
  new Gauge({
    name: "xenfleet_domain_last_good_image_timestamp_seconds",
    help: "When each domain's newest good image was made (Unix time): its manifest reads and no verification failed it",
    labelNames: ["domain", "uuid"],
    registers,
    async collect() {
      this.reset();
      for (const d of (await reading()).lastGood) this.set({ domain: d.domain, uuid: d.uuid }, d.seconds);
    },
  });
  new Gauge({
    name: "xenfleet_store_size_bytes",
    help: "Bytes of every object in each store",
    labelNames: ["store"],
    registers,
    async collect() {
      this.reset();
      for (const u of (await reading()).usage) this.set({ store: u.store }, u.storedBytes);
    },
  });
  new Gauge({
    name: "xenfleet_store_image_bytes",
    help: "Bytes the images of each store reproduce (the sum of their whole streams)",
    labelNames: ["store"],
    registers,
    async collect() {
      this.reset();
      for (const u of (await reading()).usage) this.set({ store: u.store }, u.imageBytes);
    },
  });
  new Gauge({
    name: "xenfleet_store_dedup_ratio",
    help: "Image bytes over stored bytes, per store: what deduplication, zero pages and compression save together",
    labelNames: ["store"],
    registers,
    async collect() {
      this.reset();
      for (const u of (await reading()).usage)
        if (u.storedBytes > 0) this.set({ store: u.store }, u.imageBytes / u.storedBytes);
    },
  });
}

/**
 * The service registry: every running service process (workers, controller)
 * and where its metrics are served, so that `xenfleet up` and `xenfleet
 * status` can list them and a scraper can find them without a port plan.
 * Like the host registry, liveness is a key that expires unless renewed:
 * a process that dies leaves the list within one lifetime, and the listing
 * drops entries whose alive key has lapsed.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { sleep } from "@xenfleet/core";
import { z } from "zod";
import type { RedisClient } from "./connection.js";
import { hostIdSchema } from "./host-id.js";
import { keys, TOKEN_PATTERN } from "./names.js";

export const serviceEntrySchema = z.strictObject({
  v: z.literal(1),
  /** Random per process start: two compress workers on one machine are two entries. */
  id: z.string().regex(TOKEN_PATTERN),
  /** e.g. "save-worker". */
  service: z.string().min(1).max(64),
  /** The host a host-bound worker serves. */
  host: hostIdSchema.optional(),
  /** The machine (host name) the process runs on, and its pid there. */
  machine: z.string().min(1).max(255),
  pid: z.int().min(1),
  /** Where Prometheus scrapes it, when it serves metrics. */
  metricsUrl: z.url().max(2048).optional(),
  /** When the process started (ms since the epoch). */
  startedAt: z.int().min(0),
});

export type ServiceEntry = z.infer<typeof serviceEntrySchema>;

/** A new entry for this process. */
export function newServiceEntry(fields: { service: string; host?: string; metricsUrl?: string }): ServiceEntry {
  return serviceEntrySchema.parse({
    v: 1,
    id: randomBytes(8).toString("hex"),
    ...fields,
    machine: hostname().slice(0, 255) || "localhost",
    pid: process.pid,
    startedAt: Date.now(),
  });
}

/** Writes the entry and renews its alive key for `ttlMs`. */
export async function registerService(
  redis: RedisClient,
  prefix: string,
  entry: ServiceEntry,
  ttlMs: number,
): Promise<void> {
  const checked = serviceEntrySchema.parse(entry);
  await redis
    .multi()
    .set(keys.serviceAlive(prefix, checked.id), "1", "PX", Math.max(1, Math.round(ttlMs)))
    .hset(keys.services(prefix), checked.id, JSON.stringify(checked))
    .exec();
}

/** Removes the entry at once (a clean shutdown), rather than when its alive key lapses. */
export async function unregisterService(redis: RedisClient, prefix: string, id: string): Promise<void> {
  await redis.multi().hdel(keys.services(prefix), id).del(keys.serviceAlive(prefix, id)).exec();
}

/**
 * The services alive now, sorted by service, host and start. Entries whose
 * alive key lapsed (the process died without unregistering) are removed;
 * one that does not parse (a newer version's) is skipped.
 */
export async function listServices(redis: RedisClient, prefix: string): Promise<ServiceEntry[]> {
  const all = await redis.hgetall(keys.services(prefix));
  const ids = Object.keys(all).filter((id) => TOKEN_PATTERN.test(id));
  if (ids.length === 0) return [];
  const alive = await Promise.all(ids.map((id) => redis.exists(keys.serviceAlive(prefix, id))));
  const dead = ids.filter((_, i) => alive[i] !== 1);
  if (dead.length > 0) await redis.hdel(keys.services(prefix), ...dead);
  const entries: ServiceEntry[] = [];
  for (const id of ids.filter((_, i) => alive[i] === 1)) {
    const parsed = serviceEntrySchema.safeParse(safeJson(all[id]));
    if (parsed.success) entries.push(parsed.data);
  }
  return entries.sort(
    (a, b) =>
      a.service.localeCompare(b.service) || (a.host ?? "").localeCompare(b.host ?? "") || a.startedAt - b.startedAt,
  );
}

export interface ServiceRegistrationOptions {
  redis: RedisClient;
  prefix: string;
  entry: ServiceEntry;
  intervalMs: number;
  signal: AbortSignal;
  onError?: (err: unknown) => void;
}

/**
 * Registers the entry every `intervalMs` (alive for three intervals, so one
 * missed renewal is not a departure) until `signal` aborts, then removes it.
 * Resolves once the loop has stopped.
 */
export async function runServiceRegistration(options: ServiceRegistrationOptions): Promise<void> {
  const { redis, prefix, entry, intervalMs, signal } = options;
  while (!signal.aborted) {
    try {
      await registerService(redis, prefix, entry, intervalMs * 3);
    } catch (err) {
      options.onError?.(err);
    }
    await sleep(intervalMs, signal);
  }
  await unregisterService(redis, prefix, entry.id).catch((err: unknown) => options.onError?.(err));
}

function safeJson(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The host registry: which Xen hosts exist, what they run, and whether they
 * are alive. Each host registers itself periodically (a heartbeat); its
 * "alive" key expires unless renewed, so a host that dies or loses its
 * network shows as down without anyone having to notice. Liveness comes from
 * Redis key expiry, not timestamps, so host clocks do not matter.
 */
import { sleep } from "@xenfleet/core";
import type { RedisClient } from "./connection.js";
import { z } from "zod";
import { hostIdSchema } from "./host-id.js";
import { keys } from "./names.js";
import { bytes, domainRef, labels } from "./schemas/common.js";

export const hostDomainSchema = z.strictObject({
  ...domainRef.shape,
  /** Memory the domain uses, in bytes. */
  memory: bytes,
  state: z.enum(["running", "paused", "blocked", "shutdown", "crashed", "dying", "unknown"]),
});

export const hostInfoSchema = z.strictObject({
  v: z.literal(1),
  id: hostIdSchema,
  /** Where migration receivers on this host can be reached (host name or IP). */
  address: z.string().min(1).max(255),
  memoryTotal: bytes,
  memoryFree: bytes,
  /** Placement tags, e.g. "ssd", "rack-3". */
  tags: labels,
  domains: z.array(hostDomainSchema).max(4096),
});

export type HostInfo = z.infer<typeof hostInfoSchema>;
export type HostDomain = z.infer<typeof hostDomainSchema>;

/** down: the heartbeat lapsed. draining: alive but being emptied; place nothing new there. */
export type HostState = "up" | "down" | "draining";

export interface HostStatus {
  id: string;
  state: HostState;
  draining: boolean;
  /** The last registration, or null when it is missing or unreadable (see `problem`). */
  info: HostInfo | null;
  problem?: string;
}

/**
 * The time that orders readings of a host (microseconds): Redis's own clock,
 * one for every process that writes a registration, so a host clock stepping
 * back cannot freeze a registration behind a reading "from the future". It is
 * read by a script on the registry's key, not by TIME: on a Redis Cluster,
 * TIME goes to any node, and only the node holding the registry is one clock.
 */
export async function registryClock(redis: RedisClient, prefix: string): Promise<number> {
  const [seconds, micros] = (await redis.eval("return redis.call('TIME')", 1, keys.hosts(prefix))) as [string, string];
  return Number(seconds) * 1_000_000 + Number(micros);
}

/**
 * Register a host (or renew its registration) with a heartbeat that lives
 * `ttlMs`. `readAt` is when `info` was read from the hypervisor (registryClock;
 * default now): the alive key is always renewed, but the registration is
 * written only when no later reading (updateHostDomains) is stored already.
 */
export async function heartbeat(
  redis: RedisClient,
  prefix: string,
  info: HostInfo,
  ttlMs: number,
  readAt?: number,
): Promise<void> {
  const checked = hostInfoSchema.parse(info);
  await writeRegistration(redis, prefix, checked, {
    readAt: readAt ?? (await registryClock(redis, prefix)),
    aliveMs: Math.max(1, Math.round(ttlMs)),
  });
}

/**
 * KEYS: hosts set, registration, reading time, alive key.
 * ARGV: host id, registration JSON, reading time (ms), alive lifetime (ms, 0: leave it), only-if-registered (1/0).
 * Returns 1 when the registration was written.
 */
const WRITE_REGISTRATION = `
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[4], '1', 'PX', ARGV[4]) end
if ARGV[5] == '1' and redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
local last = tonumber(redis.call('GET', KEYS[3]) or '')
if last ~= nil and tonumber(ARGV[3]) < last then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
return 1
`;

async function writeRegistration(
  redis: RedisClient,
  prefix: string,
  info: HostInfo,
  options: { readAt: number; aliveMs?: number; onlyIfRegistered?: boolean },
): Promise<boolean> {
  const written = await redis.eval(
    WRITE_REGISTRATION,
    4,
    keys.hosts(prefix),
    keys.host(prefix, info.id),
    keys.readAt(prefix, info.id),
    keys.alive(prefix, info.id),
    info.id,
    JSON.stringify(info),
    String(Math.floor(options.readAt)),
    String(options.aliveMs ?? 0),
    options.onlyIfRegistered ? "1" : "0",
  );
  return written === 1;
}

/**
 * What a host runs now, read from its hypervisor at `readAt` (registryClock,
 * taken before the read): the part of a registration that changes between
 * heartbeats.
 */
export interface HostDomainsSnapshot {
  memoryFree: number;
  domains: HostDomain[];
  readAt: number;
}

/**
 * Writes a host's domains at once, between its heartbeats: a worker calls it
 * when it has just changed them (a restore built a domain, a migration moved
 * one), so the registry is right when its job finishes rather than at the next
 * beat. The rest of the registration (address, tags) is kept, and the
 * heartbeat is not renewed: only the host agent says the host is alive. A
 * host that is not registered (never was, or forgotten) stays unregistered.
 *
 * Returns false, writing nothing, when a newer reading is already stored:
 * readings of one host are ordered by when they began (see heartbeat), so a
 * heartbeat that read the hypervisor before the change cannot bring an old
 * domain list back after this one.
 */
export async function updateHostDomains(
  redis: RedisClient,
  prefix: string,
  id: string,
  snapshot: HostDomainsSnapshot,
): Promise<boolean> {
  const host = hostIdSchema.parse(id);
  const stored = readInfo(await redis.get(keys.host(prefix, host)));
  if (!stored.ok) return false;
  const info = hostInfoSchema.parse({
    ...stored.info,
    memoryFree: Math.max(0, snapshot.memoryFree),
    domains: snapshot.domains.slice(0, 4096),
  });
  return writeRegistration(redis, prefix, info, { readAt: snapshot.readAt, onlyIfRegistered: true });
}

/** Every registered host with its state, sorted by id. */
export async function listHosts(redis: RedisClient, prefix: string): Promise<HostStatus[]> {
  const ids = (await redis.smembers(keys.hosts(prefix))).filter((id) => hostIdSchema.safeParse(id).success).sort();
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) {
    pipeline.get(keys.host(prefix, id));
    pipeline.exists(keys.alive(prefix, id));
    pipeline.sismember(keys.draining(prefix), id);
  }
  const replies = (await pipeline.exec()) ?? [];
  return ids.map((id, i) => {
    const [infoErr, infoText] = replies[i * 3] ?? [];
    const [, alive] = replies[i * 3 + 1] ?? [];
    const [, draining] = replies[i * 3 + 2] ?? [];
    if (infoErr) throw infoErr;
    const isDraining = draining === 1;
    const state: HostState = alive !== 1 ? "down" : isDraining ? "draining" : "up";
    const status: HostStatus = { id, state, draining: isDraining, info: null };
    const parsed = readInfo(infoText);
    if (parsed.ok) status.info = parsed.info;
    else status.problem = parsed.problem;
    return status;
  });
}

/**
 * Seconds since each host was last read (its last heartbeat, or a worker's
 * update of its domains), by Redis's own clock; absent for a host never read.
 */
export async function hostReadingAges(
  redis: RedisClient,
  prefix: string,
  ids: readonly string[],
): Promise<Map<string, number>> {
  const ages = new Map<string, number>();
  if (ids.length === 0) return ages;
  const [now, ...readings] = await Promise.all([
    registryClock(redis, prefix),
    ...ids.map((id) => redis.get(keys.readAt(prefix, id))),
  ]);
  ids.forEach((id, i) => {
    const at = Number(readings[i]);
    if (readings[i] != null && Number.isFinite(at)) ages.set(id, Math.max(0, (now - at) / 1_000_000));
  });
  return ages;
}

export async function getHost(redis: RedisClient, prefix: string, id: string): Promise<HostStatus | undefined> {
  return (await listHosts(redis, prefix)).find((h) => h.id === id);
}

export async function markDraining(redis: RedisClient, prefix: string, id: string): Promise<void> {
  await redis.sadd(keys.draining(prefix), hostIdSchema.parse(id));
}

export async function clearDraining(redis: RedisClient, prefix: string, id: string): Promise<void> {
  await redis.srem(keys.draining(prefix), hostIdSchema.parse(id));
}

export async function isDraining(redis: RedisClient, prefix: string, id: string): Promise<boolean> {
  return (await redis.sismember(keys.draining(prefix), hostIdSchema.parse(id))) === 1;
}

/**
 * Forget a host that is down: it leaves the registry (and its draining mark),
 * so batches stop listing its domains. Returns false, forgetting nothing,
 * when the host is alive: its next heartbeat would register it again. The
 * check and the removal are one transaction (WATCH on the alive key), so a
 * heartbeat arriving in between makes it false rather than half-forgotten.
 */
export async function forgetDownHost(redis: RedisClient, prefix: string, id: string): Promise<boolean> {
  const host = hostIdSchema.parse(id);
  const alive = keys.alive(prefix, host);
  // A dedicated connection: WATCH belongs to the connection, and this one may be shared.
  const conn = redis.duplicate();
  try {
    await conn.watch(alive);
    if ((await conn.exists(alive)) === 1) {
      await conn.unwatch();
      return false;
    }
    const done = await conn
      .multi()
      .srem(keys.hosts(prefix), host)
      .srem(keys.draining(prefix), host)
      .del(keys.host(prefix, host), keys.readAt(prefix, host))
      .exec();
    return done !== null;
  } finally {
    conn.disconnect();
  }
}

/** Forget a decommissioned host entirely. */
export async function removeHost(redis: RedisClient, prefix: string, id: string): Promise<void> {
  await redis
    .multi()
    .srem(keys.hosts(prefix), id)
    .srem(keys.draining(prefix), id)
    .del(keys.host(prefix, id), keys.alive(prefix, id), keys.readAt(prefix, id))
    .exec();
}

export interface HeartbeatLoopOptions {
  redis: RedisClient;
  prefix: string;
  /** Reads the host's current state (memory, domains) for each beat. */
  read: () => Promise<HostInfo>;
  intervalMs: number;
  /** Heartbeat lifetime; three intervals by default, so one missed beat is not "down". */
  ttlMs?: number;
  signal: AbortSignal;
  onError?: (err: unknown) => void;
}

/** Beat every `intervalMs` until `signal` aborts. Resolves once the loop has stopped. */
export async function runHeartbeat(options: HeartbeatLoopOptions): Promise<void> {
  const ttlMs = options.ttlMs ?? options.intervalMs * 3;
  while (!options.signal.aborted) {
    try {
      const readAt = await registryClock(options.redis, options.prefix);
      await heartbeat(options.redis, options.prefix, await options.read(), ttlMs, readAt);
    } catch (err) {
      options.onError?.(err);
    }
    await sleep(options.intervalMs, options.signal);
  }
}

function readInfo(text: unknown): { ok: true; info: HostInfo } | { ok: false; problem: string } {
  if (typeof text !== "string") return { ok: false, problem: "no registration stored" };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: "registration is not JSON" };
  }
  const parsed = hostInfoSchema.safeParse(json);
  if (parsed.success) return { ok: true, info: parsed.data };
  const v = (json as { v?: unknown } | null)?.v;
  return {
    ok: false,
    problem: v !== 1 ? `registration version ${String(v)} is not understood` : "registration does not match the schema",
  };
}

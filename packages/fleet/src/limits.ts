/**
 * Concurrency limits of batch saves. Per host: at most `hostSaves` saves run
 * at once on one host (its save queue's global concurrency, whatever the
 * number of workers). Fleet-wide: at most `fleetSaves` saves run at once
 * across every host, so a nightly batch cannot saturate the store. A save
 * holds a lease in a Redis sorted set while it runs; a lease of a worker that
 * died expires on its own, so a crash never leaks a slot.
 */
import { sleep } from "@xenfleet/core";
import { bullPrefix, type RedisClient } from "@xenfleet/jobs";

export interface FleetLimits {
  /** Saves at once per host. */
  hostSaves: number;
  /** Saves at once in the whole fleet; 0 means no limit. */
  fleetSaves: number;
}

export const DEFAULT_LIMITS: FleetLimits = { hostSaves: 2, fleetSaves: 16 };

// These keys live beside the registry under the prefix's hash tag.
const settingsKey = (prefix: string) => `${bullPrefix(prefix)}:limits:settings`;
const leasesKey = (prefix: string) => `${bullPrefix(prefix)}:limits:save-leases`;

export async function setLimits(redis: RedisClient, prefix: string, limits: FleetLimits): Promise<void> {
  await redis.hset(settingsKey(prefix), { hostSaves: limits.hostSaves, fleetSaves: limits.fleetSaves });
}

export async function getLimits(redis: RedisClient, prefix: string): Promise<FleetLimits> {
  const stored = await redis.hgetall(settingsKey(prefix));
  const read = (name: keyof FleetLimits) => {
    const n = Number(stored[name]);
    return Number.isInteger(n) && n >= 0 ? n : DEFAULT_LIMITS[name];
  };
  return { hostSaves: Math.max(1, read("hostSaves")), fleetSaves: read("fleetSaves") };
}

/**
 * Take a lease if fewer than the limit are held, or renew one this holder
 * already has. Redis's own clock decides expiry, so worker clocks do not matter.
 * KEYS: leases, settings. ARGV: holder, lease ms, default limit. Returns 1 or 0.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(redis.call('HGET', KEYS[2], 'fleetSaves') or ARGV[3])
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not held and limit > 0 and redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
`;

const LEASE_MS = 60_000;

export interface SaveSlot {
  release(): Promise<void>;
}

/**
 * Wait for a fleet-wide save slot (polling with jitter, so waiting workers do
 * not wake in lockstep), then hold it, renewing the lease, until released.
 */
export async function acquireSaveSlot(
  redis: RedisClient,
  prefix: string,
  holder: string,
  signal: AbortSignal,
): Promise<SaveSlot> {
  const tryAcquire = async () =>
    (await redis.eval(
      ACQUIRE,
      2,
      leasesKey(prefix),
      settingsKey(prefix),
      holder,
      LEASE_MS,
      DEFAULT_LIMITS.fleetSaves,
    )) === 1;
  while (!(await tryAcquire())) {
    signal.throwIfAborted();
    await sleep(200 + Math.random() * 300, signal);
  }
  const renew = setInterval(() => void tryAcquire().catch(() => undefined), LEASE_MS / 3);
  renew.unref();
  return {
    release: async () => {
      clearInterval(renew);
      await redis.zrem(leasesKey(prefix), holder);
    },
  };
}

/** KEYS: leases. Counts the leases not expired by the clock that expires them (see ACQUIRE). */
const ACTIVE = `
local t = redis.call('TIME')
return redis.call('ZCOUNT', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), '+inf')
`;

/** Saves holding a fleet-wide slot now. */
export async function activeSaveSlots(redis: RedisClient, prefix: string): Promise<number> {
  return (await redis.eval(ACTIVE, 1, leasesKey(prefix))) as number;
}

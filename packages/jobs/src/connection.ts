/**
 * Redis connections. BullMQ's ESM build cannot load ioredis from options by
 * itself, so services always hand it a client made here.
 */
import { Redis, type RedisOptions } from "ioredis";
import { ConfigError } from "./errors.js";

export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
}

/**
 * What a connection is for. Workers (and QueueEvents) block on Redis and
 * must wait out outages: BullMQ requires maxRetriesPerRequest null there.
 * Producers (the CLI, the controller adding jobs) fail a command after a few
 * retries instead, so a user is told Redis is down rather than left hanging.
 */
export type ConnectionRole = "worker" | "producer";

export function parseRedisUrl(url: string): RedisTarget {
  if (!URL.canParse(url)) throw new ConfigError("XENFLEET_REDIS is not a URL");
  const u = new URL(url);
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new ConfigError(`XENFLEET_REDIS must use redis:// or rediss://, not ${u.protocol}//`);
  }
  const dbText = u.pathname.replace(/^\//, "");
  const db = dbText === "" ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new ConfigError("XENFLEET_REDIS database must be 0-15");
  const target: RedisTarget = {
    host: u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: u.port === "" ? 6379 : Number(u.port),
    db,
    tls: u.protocol === "rediss:",
  };
  if (u.username !== "") target.username = decodeURIComponent(u.username);
  if (u.password !== "") target.password = decodeURIComponent(u.password);
  return target;
}

/** ioredis options for a target and role. */
export function redisOptions(target: RedisTarget, role: ConnectionRole): RedisOptions {
  const options: RedisOptions = {
    host: target.host,
    port: target.port,
    db: target.db,
    maxRetriesPerRequest: role === "worker" ? null : 3,
    // Reconnect forever, backing off from 1s to 20s so a Redis restart is not
    // met by every worker in the fleet reconnecting in the same millisecond.
    retryStrategy: (times) => Math.min(1000 * 2 ** Math.min(times, 5), 20_000),
  };
  if (target.username !== undefined) options.username = target.username;
  if (target.password !== undefined) options.password = target.password;
  if (target.tls) options.tls = { servername: target.host };
  return options;
}

/** A new ioredis client; the caller owns it and calls `quit()` when done. */
export function createRedis(url: string, role: ConnectionRole, connectionName?: string): Redis {
  const options = redisOptions(parseRedisUrl(url), role);
  if (connectionName !== undefined) options.connectionName = connectionName;
  return new Redis(options);
}

/** The URL with the password masked, for logs and error messages. */
export function describeRedis(target: RedisTarget): string {
  const auth =
    target.username !== undefined || target.password !== undefined
      ? `${target.username ?? ""}${target.password !== undefined ? ":***" : ""}@`
      : "";
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return `${target.tls ? "rediss" : "redis"}://${auth}${host}:${target.port}/${target.db}`;
}

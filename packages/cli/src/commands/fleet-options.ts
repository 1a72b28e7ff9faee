/**
 * The options every fleet command shares (--redis, --prefix, --store), their
 * environment fallbacks, and the connection they open. This is where the
 * fleet commands read the environment.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { InvalidArgumentError, Option, type Command } from "commander";
import {
  createRedis,
  DEFAULT_PREFIX,
  describeRedis,
  parseRedisUrl,
  prefixSchema,
  redisOptions,
  redisUrlSchema,
} from "@xenfleet/jobs";
import { parseSize } from "@xenfleet/core";
import { Redis } from "ioredis";

export interface FleetOptions {
  redis: string;
  prefix: string;
  store: string;
}

export const DEFAULT_REDIS = "redis://127.0.0.1:6379";

/** The store jobs name: a URL (a plain path becomes a file:// URL, since jobs travel to other processes). */
export function storeUrlOf(text: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(text) ? text : pathToFileURL(resolve(text)).href;
}

export function addFleetOptions(command: Command): Command {
  return command
    .addOption(new Option("--redis <url>", "Redis URL").env("XENFLEET_REDIS").default(DEFAULT_REDIS))
    .addOption(
      new Option("--prefix <prefix>", "key prefix of the fleet in Redis")
        .env("XENFLEET_PREFIX")
        .default(DEFAULT_PREFIX),
    )
    .addOption(
      new Option("--store <url>", "object store URL or path").env("XENFLEET_STORE").default("./.xenfleet/store"),
    );
}

/** Checked options (the store as a URL). */
export function fleetOptions(opts: { redis: string; prefix: string; store: string }): FleetOptions {
  const redis = redisUrlSchema.safeParse(opts.redis);
  if (!redis.success) throw new Error(`--redis: ${redis.error.issues[0]?.message ?? "invalid"}`);
  const prefix = prefixSchema.safeParse(opts.prefix);
  if (!prefix.success) throw new Error(`--prefix: ${prefix.error.issues[0]?.message ?? "invalid"}`);
  return { redis: redis.data, prefix: prefix.data, store: storeUrlOf(opts.store) };
}

/** Nothing answered at a Redis URL: the command exits with code 3 and one line naming it. */
export class RedisUnreachableError extends Error {
  readonly exitCode = 3;
  constructor(url: string, reason?: string) {
    super(`cannot reach Redis at ${describeRedis(parseRedisUrl(url))}${reason === undefined ? "" : ` (${reason})`}`);
    this.name = "RedisUnreachableError";
  }
}

/**
 * Ask Redis for a PING, once, within `timeoutMs`: undefined when it answers,
 * else why not. A single attempt, unlike the connections that do the work
 * (which retry for as long as it takes).
 */
export async function pingRedis(url: string, timeoutMs = 3000): Promise<string | undefined> {
  const client = new Redis({
    ...redisOptions(parseRedisUrl(url), "producer"),
    connectionName: "xenfleet-cli-ping",
    lazyConnect: true,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    // A peer that accepted but never answers is not waited for when closing.
    disconnectTimeout: 100,
  });
  let timer: NodeJS.Timeout | undefined;
  // A refused connection emits "error" and then "end" without settling connect().
  const failed = new Promise<never>((_, reject) => {
    client.on("error", reject);
    client.once("end", () => reject(new Error("connection closed")));
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([client.connect().then(() => client.ping()), failed]);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** Throws RedisUnreachableError unless Redis at `url` answers. */
export async function reachRedis(url: string): Promise<void> {
  const reason = await pingRedis(url);
  if (reason !== undefined) throw new RedisUnreachableError(url, reason);
}

/**
 * Run `fn` with a producer connection, closed afterwards whatever happens.
 * A Redis that does not answer at first fails at once (RedisUnreachableError)
 * rather than after the producer's retries.
 */
export async function withRedis<T>(options: FleetOptions, fn: (redis: Redis) => Promise<T>): Promise<T> {
  await reachRedis(options.redis);
  const redis = createRedis(options.redis, "producer", "xenfleet-cli");
  try {
    return await fn(redis);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

/** The environment handed to the fleet's child processes. */
export function childEnv(): Record<string, string | undefined> {
  return { ...process.env };
}

/** Print an error (as JSON with --json) and set exit code 1 (3 when Redis cannot be reached). */
export function fail(error: unknown, json: boolean | undefined): void {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (json)
    process.stdout.write(
      JSON.stringify({ ok: false, error: { message, ...(typeof code === "string" ? { code } : {}) } }) + "\n",
    );
  else process.stderr.write(`error: ${message}\n`);
  process.exitCode = error instanceof RedisUnreachableError ? error.exitCode : 1;
}

export function integer(text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`not a whole number: ${text}`);
  return n;
}

export function list(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** "16M", "1G": a byte size, for commander. */
export function size(text: string): number {
  try {
    return parseSize(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * The options every fleet command shares (--redis, --prefix, --store), their
 * environment fallbacks, and the connection they open. This is where the
 * fleet commands read the environment.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { InvalidArgumentError, Option, type Command } from "commander";
import { createRedis, DEFAULT_PREFIX, prefixSchema, redisUrlSchema } from "@xenfleet/jobs";
import { parseSize } from "@xenfleet/core";
import type { Redis } from "ioredis";

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

/** Run `fn` with a producer connection, closed afterwards whatever happens. */
export async function withRedis<T>(options: FleetOptions, fn: (redis: Redis) => Promise<T>): Promise<T> {
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

/** Print an error (as JSON with --json) and set exit code 1. */
export function fail(error: unknown, json: boolean | undefined): void {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (json)
    process.stdout.write(
      JSON.stringify({ ok: false, error: { message, ...(typeof code === "string" ? { code } : {}) } }) + "\n",
    );
  else process.stderr.write(`error: ${message}\n`);
  process.exitCode = 1;
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

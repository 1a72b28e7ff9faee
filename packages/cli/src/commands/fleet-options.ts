/**
 * The options fleet commands share (--redis, --prefix, and --store for those
 * that name a store), their environment fallbacks, and the connection they
 * open. This is where the fleet commands read the environment.
 *
 * A fleet command's --store is a store's name, as the workers know it: jobs
 * never carry a URL, since a worker opens only its configured stores. The
 * names come from the same variables the workers read (XENFLEET_STORES, or
 * XENFLEET_STORE as "main"; the embedded default store when neither is set).
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Option, type Command } from "commander";
import {
  clusterOptions,
  createRedis,
  DEFAULT_PREFIX,
  parseRedisUrl,
  type RedisClient,
  redisOptions,
  schemas,
} from "@xenfleet/jobs";
import { Stores, UnknownStoreError } from "@xenfleet/fleet";
import {
  DEFAULT_STORE_PATH,
  openStoreConfig,
  type ObjectStore,
  type StoreConfig,
  type StoreKeySource,
} from "@xenfleet/store";
import { Cluster, Redis } from "ioredis";
import { prefix, redisUrl, storeLocation } from "../args.js";
import { RedisUnreachableError, UsageError } from "../errors.js";

export interface RedisOptions {
  redis: string;
  prefix: string;
}

export interface FleetOptions extends RedisOptions {
  /** The store the jobs name, by its name (jobs travel to workers, which know it by that name). */
  store: string;
}

export const DEFAULT_REDIS = "redis://127.0.0.1:6379";

/** --redis and --prefix, for every command that talks to the fleet. */
export function addRedisOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        "--redis <url>",
        "Redis URL: redis://, rediss:// (TLS), redis+sentinel://host:port,.../master or redis+cluster://host:port,...",
      )
        .env("XENFLEET_REDIS")
        .default(DEFAULT_REDIS)
        .argParser(redisUrl),
    )
    .addOption(
      new Option("--prefix <prefix>", "key prefix of the fleet in Redis")
        .env("XENFLEET_PREFIX")
        .default(DEFAULT_PREFIX)
        .argParser(prefix),
    );
}

/** --store, for every command that reads or writes images. */
export function storeOption(): Option {
  return new Option("--store <url>", "object store: a path, file:///path or s3://bucket/prefix?endpoint=...")
    .env("XENFLEET_STORE")
    .default(DEFAULT_STORE_PATH)
    .argParser(storeLocation);
}

/** --key-file, for every command that opens a store here: the key file of an encrypted store. */
export function keyFileOption(): Option {
  return new Option(
    "--key-file <file>",
    "key file of an encrypted store (else XENFLEET_PASSPHRASE, the passphrase of one, is tried)",
  ).env("XENFLEET_KEY_FILE");
}

/** The variable a passphrase is read from: never a flag, which every user of the machine could see in ps. */
export const PASSPHRASE_VARIABLE = "XENFLEET_PASSPHRASE";

/**
 * The key a command opens a store with: --key-file (or XENFLEET_KEY_FILE),
 * else the store's own key file as configured (XENFLEET_STORE_<NAME>_KEY_FILE),
 * else the passphrase in XENFLEET_PASSPHRASE, else none.
 */
export function storeKey(keyFile: string | undefined, configured?: StoreKeySource): StoreKeySource | undefined {
  if (keyFile) return { file: keyFile };
  if (configured !== undefined) return configured;
  const passphrase = process.env[PASSPHRASE_VARIABLE];
  return passphrase ? { passphrase, source: PASSPHRASE_VARIABLE } : undefined;
}

/** --redis, --prefix and --store (a store's name), for fleet commands that start work on images. */
export function addFleetOptions(command: Command): Command {
  return addRedisOptions(command).addOption(
    new Option(
      "--store <name>",
      "the store the jobs name, as the workers know it (XENFLEET_STORES=name=url,...; XENFLEET_STORE is main); " +
        "a location is taken only when it is a configured store's; default main, or the first store listed",
    ),
  );
}

/** A store location as a URL (a plain path becomes a file:// URL, since it is handed to other processes). */
export function storeUrlOf(text: string): string {
  if (text === "") return storeUrlOf(DEFAULT_STORE_PATH);
  return /^[a-z][a-z0-9+.-]*:/i.test(text) ? text : pathToFileURL(resolve(text)).href;
}

/** The stores fleet commands know, by name, as the workers are configured. */
export function fleetStores(): Stores {
  const env = process.env;
  return new Stores({ ...env, XENFLEET_STORE: env.XENFLEET_STORE || DEFAULT_STORE_PATH });
}

/**
 * The name of the store a fleet command's --store means: a configured
 * store's name, or a URL (or path) equal to a configured store, whose name
 * is then sent. Anything else is refused here: a worker would refuse it too.
 */
export function fleetStoreName(text: string | undefined): string {
  const stores = fleetStores();
  if (text === undefined) return stores.names[0]!;
  try {
    return stores.storeName(text);
  } catch (err) {
    if (!(err instanceof UnknownStoreError)) throw err;
    const configured = `configured stores: ${stores.names.join(", ")}`;
    throw new UsageError(
      !schemas.STORE_NAME_PATTERN.test(text)
        ? `--store of a fleet command is a store's name (${configured}); ${text} is not the location of one of them, ` +
            "and workers open only their configured stores (set XENFLEET_STORES=name=url,... as the workers have it)"
        : `no store is named ${text} (${configured}; set XENFLEET_STORES=name=url,... as the workers have it)`,
    );
  }
}

/**
 * The configured store at `location` (a URL or path; absent: XENFLEET_STORE
 * or the default), so that an image command opens it with that store's own
 * credentials and key file; undefined when no configured store is there.
 */
export function configuredStoreAt(
  location: string | undefined,
): { config: StoreConfig; key: StoreKeySource | undefined } | undefined {
  const stores = fleetStores();
  try {
    const name = stores.storeName(location || process.env.XENFLEET_STORE || DEFAULT_STORE_PATH);
    return { config: stores.config(name), key: stores.key(name) };
  } catch (err) {
    if (err instanceof UnknownStoreError) return undefined;
    throw err;
  }
}

/** Opens the store a fleet command names, as this machine's configuration has it (to read images). */
export function openFleetStore(name: string, options: { create: boolean }): Promise<ObjectStore> {
  const stores = fleetStores();
  const key = storeKey(undefined, stores.key(name));
  return openStoreConfig(stores.config(name), key === undefined ? options : { ...options, key });
}

/** The options as the fleet's functions take them (values were checked when parsed). */
export function fleetOptions(opts: { redis: string; prefix: string; store?: string }): FleetOptions {
  return { redis: opts.redis, prefix: opts.prefix, store: fleetStoreName(opts.store) };
}

/**
 * Ask Redis for a PING, once, within `timeoutMs`: undefined when it answers,
 * else why not. A single attempt, unlike the connections that do the work
 * (which retry for as long as it takes).
 */
export async function pingRedis(url: string, timeoutMs = 3000): Promise<string | undefined> {
  const target = parseRedisUrl(url);
  const oneTry = {
    connectionName: "xenfleet-cli-ping",
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    // A peer that accepted but never answers is not waited for when closing.
    disconnectTimeout: 100,
  };
  const client =
    target.cluster === undefined
      ? new Redis({ ...redisOptions(target, "producer"), ...oneTry, lazyConnect: true, enableOfflineQueue: false })
      : new Cluster(target.cluster.nodes, {
          redisOptions: { ...clusterOptions(target, "producer").redisOptions, ...oneTry },
          lazyConnect: true,
          enableOfflineQueue: false,
          clusterRetryStrategy: () => null,
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
export async function withRedis<T>(options: RedisOptions, fn: (redis: RedisClient) => Promise<T>): Promise<T> {
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

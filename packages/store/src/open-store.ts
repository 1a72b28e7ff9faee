import { LimitStore } from "./limit-store.js";
import { LocalStore } from "./local-store.js";
import { MemoryStore } from "./memory-store.js";
import type { ObjectStore } from "./object-store.js";
import { RetryStore, type RetryOptions } from "./retry-store.js";
import { parseStoreUrl, type StoreConfig, type StoreEnv } from "./store-url.js";
import { type StoreKeySource, unlockStore } from "./unlock-store.js";

export interface OpenStoreOptions {
  /** Base of relative file paths. Default process.cwd(). */
  readonly cwd?: string;
  /** Calls in flight at once. Default 32. */
  readonly concurrency?: number;
  /** Retry policy for transient failures, or false for none. */
  readonly retry?: RetryOptions | false;
  /**
   * false: open a filesystem store only if its directory exists (else
   * StoreMissingError), as a read-only command must; a mistyped path is an
   * error, not a new empty store. Default true (a store is made where named).
   */
  readonly create?: boolean;
  /**
   * The key of an encrypted store (its header says whether it is one). An
   * encrypted store opened without one is StoreKeyMissingError; a plain
   * store given one is StoreNotEncryptedError.
   */
  readonly key?: StoreKeySource;
}

/**
 * Opens the store a URL names (see parseStoreUrl), wrapped for production
 * use: a concurrency limit around the backend, retries around that (so a
 * backing-off call does not hold a slot), and for an encrypted store its
 * encryption around those (an object is sealed once, whatever the retries).
 */
export async function openStore(
  url: string | undefined,
  env: StoreEnv,
  options: OpenStoreOptions = {},
): Promise<ObjectStore> {
  return openStoreConfig(parseStoreUrl(url, env, options.cwd), options);
}

export async function openStoreConfig(config: StoreConfig, options: OpenStoreOptions = {}): Promise<ObjectStore> {
  const backend = await openBackend(config, options.create ?? true);
  return unlockOrClose(wrapBackend(backend, options), options.key);
}

/** The backend with its concurrency limit and retries, as every store is used. */
export function wrapBackend(backend: ObjectStore, options: OpenStoreOptions = {}): ObjectStore {
  const limited = new LimitStore(backend, options.concurrency ?? 32);
  return options.retry === false ? limited : new RetryStore(limited, options.retry ?? {});
}

async function unlockOrClose(store: ObjectStore, key: StoreKeySource | undefined): Promise<ObjectStore> {
  try {
    return (await unlockStore(store, key)).store;
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
}

/** The store a configuration names with its limit and retries, but without unlocking it: for init and the key ring. */
export async function openInnerStore(config: StoreConfig, options: OpenStoreOptions = {}): Promise<ObjectStore> {
  return wrapBackend(await openBackend(config, options.create ?? true), options);
}

async function openBackend(config: StoreConfig, create: boolean): Promise<ObjectStore> {
  switch (config.kind) {
    case "file":
      return LocalStore.open(config.root, { create });
    case "s3": {
      // Loaded here, not at the top: the AWS SDK is most of a command's start-up, and most commands never use it.
      const { S3Store } = await import("./s3-store.js");
      return new S3Store(config.s3);
    }
    case "memory":
      return new MemoryStore();
  }
}

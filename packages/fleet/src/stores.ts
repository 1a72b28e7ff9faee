import { XenfleetError } from "@xenfleet/core";
import { ConfigError, parseStoreList, schemas, type UpgradeContext } from "@xenfleet/jobs";
import {
  KeyFileError,
  openStoreConfig,
  readKeyFileSync,
  parseStoreUrl,
  type ObjectStore,
  type StoreConfig,
  type StoreKeySource,
} from "@xenfleet/store";
import { envOfStore, keyFileOfStore, type StoreCredentialsEnv } from "./store-credentials.js";

/** A job named a store this worker is not configured with. Retrying cannot change that. */
export class UnknownStoreError extends XenfleetError {
  readonly code = "XF_FLEET_UNKNOWN_STORE";
  constructor(
    readonly store: string,
    readonly configured: readonly string[],
  ) {
    super(
      `the job names store ${describeStore(store)}, which this worker is not configured with ` +
        `(its stores: ${configured.join(", ") || "none"}; set XENFLEET_STORES=name=url,...)`,
    );
  }
}

/** A store as a message shows it: a name as itself, a URL only by its scheme (it is whatever the job said). */
function describeStore(store: string): string {
  if (schemas.STORE_NAME_PATTERN.test(store)) return JSON.stringify(store);
  return URL.canParse(store) ? `URL (${new URL(store).protocol})` : "(unparseable)";
}

export interface StoresEnv extends StoreCredentialsEnv {
  /** "name=url,name=url": the stores this worker may use. Absent: one store, "main", at XENFLEET_STORE. */
  readonly XENFLEET_STORES?: string | undefined;
}

/**
 * The stores a worker may use, by name, and the ones it has opened. A job
 * names its store; only stores in this worker's configuration are opened,
 * with credentials from the worker's own environment, never from the job.
 * A job written before stores had names carries a URL: it is accepted only
 * when the URL is that of a configured store (same backend, place and
 * endpoint), so a job cannot send a worker, and its credentials, anywhere
 * else. Each store has its own credentials (StoresEnv), and an encrypted
 * store its key file (XENFLEET_STORE_<NAME>_KEY_FILE, else XENFLEET_KEY_FILE):
 * a worker without one refuses every job on that store with
 * StoreKeyMissingError. One client per store for the worker's lifetime.
 */
export class Stores implements UpgradeContext {
  private readonly configured = new Map<string, StoreConfig>();
  private readonly keyFiles = new Map<string, string>();
  /** The opens (in `open`) that have finished: those close() waits for. */
  private readonly opened = new WeakSet<Promise<ObjectStore>>();
  private readonly open = new Map<string, Promise<ObjectStore>>();

  constructor(private readonly env: StoresEnv) {
    const list = env.XENFLEET_STORES?.trim();
    if (list) {
      for (const [name, url] of parseStoreList(list)) this.add(name, url);
    } else if (env.XENFLEET_STORE) this.add("main", env.XENFLEET_STORE);
    else
      throw new ConfigError(
        "no store configured: set XENFLEET_STORE (one store, main) or XENFLEET_STORES=name=url,...",
      );
  }

  /** Names of the configured stores. */
  get names(): string[] {
    return [...this.configured.keys()];
  }

  /** Where store `name` is and how it is opened; UnknownStoreError when it is not configured. */
  config(name: string): StoreConfig {
    const config = this.configured.get(name);
    if (config === undefined) throw new UnknownStoreError(name, this.names);
    return config;
  }

  /** The store a job names (a configured name, or the URL of a configured store); UnknownStoreError otherwise. */
  get(ref: string): Promise<ObjectStore> {
    const name = this.storeName(ref);
    const cached = this.open.get(name);
    if (cached !== undefined) return cached;
    const key = this.key(name);
    const store = openStoreConfig(this.configured.get(name)!, key === undefined ? {} : { key });
    // A failed open is not cached: the next job tries again.
    store.then(
      () => this.opened.add(store),
      () => this.open.delete(name),
    );
    this.open.set(name, store);
    return store;
  }

  /**
   * Reads every configured key file now, so that a service given a path
   * that is wrong, or a file that is not a key file, stops at start-up with
   * ConfigError naming it rather than failing each job. Returns this.
   */
  checkKeyFiles(): this {
    for (const [name, file] of this.keyFiles) {
      try {
        readKeyFileSync(file);
      } catch (err) {
        if (!(err instanceof KeyFileError)) throw err;
        throw new ConfigError(`store ${name}: ${err.message}`);
      }
    }
    return this;
  }

  /** The key store `name` is opened with, when it is configured with one. */
  key(name: string): StoreKeySource | undefined {
    const file = this.keyFiles.get(name);
    return file === undefined ? undefined : { file };
  }

  private add(name: string, url: string): void {
    this.configured.set(name, parseStoreUrl(url, envOfStore(this.env, name)));
    const keyFile = keyFileOfStore(this.env, name);
    if (keyFile !== undefined) this.keyFiles.set(name, keyFile);
  }

  /**
   * Closes the stores that are open. One still opening (its header read
   * waiting on an endpoint that does not answer) is not waited for: it is
   * closed as soon as its open ends, so shutting down never hangs on it.
   */
  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(
      all.map(async (pending) => {
        if (!this.opened.has(pending)) {
          pending.then((s) => s.close()).catch(() => {});
          return;
        }
        await (await pending).close();
      }),
    );
  }

  /**
   * The name of the configured store `ref` is: a configured name, or a URL
   * (or path) of the same backend, place and endpoint as a configured store.
   * UnknownStoreError otherwise.
   */
  storeName(ref: string): string {
    if (this.configured.has(ref)) return ref;
    if (!schemas.STORE_NAME_PATTERN.test(ref)) {
      let wanted: string | undefined;
      try {
        wanted = identity(parseStoreUrl(ref, {}));
        // Credentials and region play no part: a location is compared, not how it is reached.
      } catch {
        wanted = undefined;
      }
      for (const [name, config] of this.configured) if (identity(config) === wanted) return name;
    }
    throw new UnknownStoreError(ref, this.names);
  }
}

/** What makes two store configurations the same store: backend, place, endpoint; never credentials or region. */
function identity(config: StoreConfig): string {
  switch (config.kind) {
    case "file":
      return `file:${config.root}`;
    case "memory":
      return "memory:";
    case "s3": {
      const { bucket, prefix, endpoint, forcePathStyle } = config.s3;
      return `s3:${JSON.stringify({ bucket, prefix: prefix ?? "", endpoint: endpoint ?? "", forcePathStyle })}`;
    }
  }
}

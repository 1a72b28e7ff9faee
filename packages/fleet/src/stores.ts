import { XenfleetError } from "@xenfleet/core";
import { ConfigError, parseStoreList } from "@xenfleet/jobs";
import { openStoreConfig, parseStoreUrl, type ObjectStore, type StoreConfig, type StoreEnv } from "@xenfleet/store";

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
  if (/^[a-z0-9][a-z0-9_-]{0,31}$/.test(store)) return JSON.stringify(store);
  return URL.canParse(store) ? `URL (${new URL(store).protocol})` : "(unparseable)";
}

export interface StoresEnv extends StoreEnv {
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
 * else. One client per store for the worker's lifetime.
 */
export class Stores {
  private readonly configured = new Map<string, StoreConfig>();
  private readonly open = new Map<string, Promise<ObjectStore>>();

  constructor(private readonly env: StoresEnv) {
    const list = env.XENFLEET_STORES?.trim();
    if (list) {
      for (const [name, url] of parseStoreList(list)) this.configured.set(name, parseStoreUrl(url, env));
    } else if (env.XENFLEET_STORE) this.configured.set("main", parseStoreUrl(env.XENFLEET_STORE, env));
    else
      throw new ConfigError(
        "no store configured: set XENFLEET_STORE (one store, main) or XENFLEET_STORES=name=url,...",
      );
  }

  /** Names of the configured stores. */
  get names(): string[] {
    return [...this.configured.keys()];
  }

  /** The store a job names (a configured name, or the URL of a configured store); UnknownStoreError otherwise. */
  get(ref: string): Promise<ObjectStore> {
    const name = this.nameOf(ref);
    let store = this.open.get(name);
    if (store === undefined) {
      store = openStoreConfig(this.configured.get(name)!);
      // A failed open is not cached: the next job tries again.
      store.catch(() => this.open.delete(name));
      this.open.set(name, store);
    }
    return store;
  }

  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(all.map(async (s) => (await s).close()));
  }

  private nameOf(ref: string): string {
    if (this.configured.has(ref)) return ref;
    if (URL.canParse(ref)) {
      let wanted: string | undefined;
      try {
        wanted = identity(parseStoreUrl(ref, this.env));
      } catch {
        wanted = undefined;
      }
      for (const [name, config] of this.configured) if (identity(config) === wanted) return name;
    }
    throw new UnknownStoreError(ref, this.names);
  }
}

/** What makes two store configurations the same store: backend, place, endpoint; never credentials. */
function identity(config: StoreConfig): string {
  switch (config.kind) {
    case "file":
      return `file:${config.root}`;
    case "memory":
      return "memory:";
    case "s3": {
      const { bucket, prefix, endpoint, region, forcePathStyle } = config.s3;
      return `s3:${JSON.stringify({ bucket, prefix: prefix ?? "", endpoint: endpoint ?? "", region, forcePathStyle })}`;
    }
  }
}

import { XenfleetError } from "@xenfleet/core";
import { ConfigError, parseStoreList, schemas, type UpgradeContext } from "@xenfleet/jobs";
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
  if (schemas.STORE_NAME_PATTERN.test(store)) return JSON.stringify(store);
  return URL.canParse(store) ? `URL (${new URL(store).protocol})` : "(unparseable)";
}

export interface StoresEnv extends StoreEnv {
  /** "name=url,name=url": the stores this worker may use. Absent: one store, "main", at XENFLEET_STORE. */
  readonly XENFLEET_STORES?: string | undefined;
  /**
   * A store's own credentials and region, overriding the AWS_* defaults for
   * that store only: XENFLEET_STORE_<NAME>_ACCESS_KEY_ID, _SECRET_ACCESS_KEY,
   * _SESSION_TOKEN and _REGION, <NAME> the store's name upper-cased with "-"
   * as "_" (see storeCredentialVariables).
   */
  readonly [credential: `XENFLEET_STORE_${string}_${StoreCredential}`]: string | undefined;
}

const STORE_CREDENTIALS = ["ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "REGION"] as const;
type StoreCredential = (typeof STORE_CREDENTIALS)[number];

/** The variable holding `what` for store `name`: XENFLEET_STORE_COLD_ACCESS_KEY_ID for cold. */
export function storeCredentialVariable(
  name: string,
  what: StoreCredential,
): `XENFLEET_STORE_${string}_${StoreCredential}` {
  return `XENFLEET_STORE_${name.toUpperCase().replaceAll("-", "_")}_${what}`;
}

/**
 * The per-store variables in an environment, for a service's config module
 * to keep (a schema drops variables it does not name, and these are named
 * after the stores). Only names, never values, are checked.
 */
export function storeCredentialVariables(env: Record<string, string | undefined>): StoresEnv {
  const pattern = new RegExp(`^XENFLEET_STORE_[A-Z0-9_]+_(${STORE_CREDENTIALS.join("|")})$`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (pattern.test(key) && value !== undefined) out[key] = value;
  return out as StoresEnv;
}

/**
 * The environment store `name` is opened with: its own key pair (and session
 * token) when it has one, else the AWS_* defaults; its own region, else
 * AWS_REGION. A key pair is never mixed with another's session token.
 */
function envOfStore(env: StoresEnv, name: string): StoreEnv {
  const own = (what: StoreCredential) => env[storeCredentialVariable(name, what)] || undefined;
  const ownKeys = own("ACCESS_KEY_ID") !== undefined || own("SECRET_ACCESS_KEY") !== undefined;
  if (ownKeys && (own("ACCESS_KEY_ID") === undefined || own("SECRET_ACCESS_KEY") === undefined))
    throw new ConfigError(
      `store ${name}: set both ${storeCredentialVariable(name, "ACCESS_KEY_ID")} and ` +
        `${storeCredentialVariable(name, "SECRET_ACCESS_KEY")}, or neither`,
    );
  return {
    AWS_ACCESS_KEY_ID: ownKeys ? own("ACCESS_KEY_ID") : env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: ownKeys ? own("SECRET_ACCESS_KEY") : env.AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN: ownKeys ? own("SESSION_TOKEN") : env.AWS_SESSION_TOKEN,
    AWS_REGION: own("REGION") ?? env.AWS_REGION,
  };
}

/**
 * The stores a worker may use, by name, and the ones it has opened. A job
 * names its store; only stores in this worker's configuration are opened,
 * with credentials from the worker's own environment, never from the job.
 * A job written before stores had names carries a URL: it is accepted only
 * when the URL is that of a configured store (same backend, place and
 * endpoint), so a job cannot send a worker, and its credentials, anywhere
 * else. Each store has its own credentials (StoresEnv). One client per
 * store for the worker's lifetime.
 */
export class Stores implements UpgradeContext {
  private readonly configured = new Map<string, StoreConfig>();
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
    let store = this.open.get(name);
    if (store === undefined) {
      store = openStoreConfig(this.configured.get(name)!);
      // A failed open is not cached: the next job tries again.
      store.catch(() => this.open.delete(name));
      this.open.set(name, store);
    }
    return store;
  }

  private add(name: string, url: string): void {
    this.configured.set(name, parseStoreUrl(url, envOfStore(this.env, name)));
  }

  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(all.map(async (s) => (await s).close()));
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

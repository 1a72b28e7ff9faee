/**
 * Each configured store's own credentials: XENFLEET_STORE_<NAME>_ACCESS_KEY_ID,
 * _SECRET_ACCESS_KEY, _SESSION_TOKEN and _REGION override the AWS_* defaults
 * for that store only, so a key given for one store opens no other; and
 * _KEY_FILE, the key file of an encrypted store, overrides XENFLEET_KEY_FILE.
 */
import { ConfigError } from "@xenfleet/jobs";
import type { StoreEnv } from "@xenfleet/store";

const STORE_CREDENTIALS = ["ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "REGION", "KEY_FILE"] as const;
export type StoreCredential = (typeof STORE_CREDENTIALS)[number];

/** The AWS_* defaults and every store's own variables, <NAME> its name upper-cased with "-" as "_". */
export interface StoreCredentialsEnv extends StoreEnv {
  /** The key file of every encrypted store without one of its own (XENFLEET_STORE_<NAME>_KEY_FILE). */
  readonly XENFLEET_KEY_FILE?: string | undefined;
  readonly [credential: `XENFLEET_STORE_${string}_${StoreCredential}`]: string | undefined;
}

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
export function storeCredentialVariables(env: Record<string, string | undefined>): StoreCredentialsEnv {
  const pattern = new RegExp(`^XENFLEET_STORE_[A-Z0-9_]+_(${STORE_CREDENTIALS.join("|")})$`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (pattern.test(key) && value !== undefined) out[key] = value;
  return out as StoreCredentialsEnv;
}

/**
 * The environment store `name` is opened with: its own key pair (and session
 * token) when it has one, else the AWS_* defaults; its own region, else
 * AWS_REGION. A key pair is never mixed with another's session token.
 */
export function envOfStore(env: StoreCredentialsEnv, name: string): StoreEnv {
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
 * The key file store `name` is opened with: its own (XENFLEET_STORE_<NAME>_KEY_FILE),
 * else XENFLEET_KEY_FILE, else none. Only the file's path is configuration;
 * the key is read from the file by the process that opens the store, and
 * never travels in a job, through Redis or into a log.
 */
export function keyFileOfStore(env: StoreCredentialsEnv, name: string): string | undefined {
  return env[storeCredentialVariable(name, "KEY_FILE")] || env.XENFLEET_KEY_FILE || undefined;
}

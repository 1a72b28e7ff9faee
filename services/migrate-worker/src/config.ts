/** The migrate worker's configuration: the only place it reads the environment. */
import { readFileSync } from "node:fs";
import { hostEnvSchema, storeCredentialVariables, type StoresEnv } from "@xenfleet/fleet";
import { parseEnv, portSchema } from "@xenfleet/jobs";
import { parseRate } from "@xenfleet/migration";
import { z } from "zod";

const rateSchema = z.string().transform((text, ctx) => {
  try {
    return parseRate(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});

const flag = z.enum(["0", "1", "true", "false"]).transform((v) => v === "1" || v === "true");

export const configSchema = hostEnvSchema
  .extend({
    /** Address receivers listen on; the advertised address is XENFLEET_HOST_ADDRESS. */
    XENFLEET_MIGRATE_BIND: z.string().min(1).default("0.0.0.0"),
    /** Port receivers listen on; 0 (default) picks a free port per migration. */
    XENFLEET_MIGRATE_PORT: portSchema.default(0),
    /** Outgoing migration bandwidth of this host, all migrations together (e.g. 500M); none by default. */
    XENFLEET_MIGRATE_BANDWIDTH: rateSchema.optional(),
    /** How long a receiver's one-time token stays valid. */
    XENFLEET_MIGRATE_TOKEN_TTL_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
    /** How long a sender waits for its receiver to listen before it aborts the migration (the source keeps running). */
    XENFLEET_MIGRATE_LISTEN_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
    /** Longest silence mid-stream (no data on the target, no acknowledgement on the source) before the migration is aborted. */
    XENFLEET_MIGRATE_STALL_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
    /** Concurrent sends and receives on this host. */
    XENFLEET_MIGRATE_SEND_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
    XENFLEET_MIGRATE_RECV_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
    /** Receiver TLS: PEM key and certificate files; both or neither. */
    XENFLEET_MIGRATE_TLS_KEY: z.string().min(1).optional(),
    XENFLEET_MIGRATE_TLS_CERT: z.string().min(1).optional(),
    /** CA file senders check receivers' certificates against. */
    XENFLEET_MIGRATE_TLS_CA: z.string().min(1).optional(),
    /** Run the host agent (heartbeat) from this process too; on by default, harmless beside another agent. */
    XENFLEET_MIGRATE_AGENT: flag.default(true),
  })
  .refine((c) => (c.XENFLEET_MIGRATE_TLS_KEY === undefined) === (c.XENFLEET_MIGRATE_TLS_CERT === undefined), {
    message: "set both XENFLEET_MIGRATE_TLS_KEY and XENFLEET_MIGRATE_TLS_CERT, or neither",
    path: ["XENFLEET_MIGRATE_TLS_KEY"],
  });

/** The schema's variables, and each store's own credentials (named after the stores, so no schema lists them). */
export type Config = z.infer<typeof configSchema> & StoresEnv;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return { ...parseEnv(configSchema, env), ...storeCredentialVariables(env) };
}

/** The PEM files the config names, read once at start. */
export function loadTls(config: Config): { tls?: { key: string; cert: string }; ca?: string } {
  return {
    ...(config.XENFLEET_MIGRATE_TLS_KEY && config.XENFLEET_MIGRATE_TLS_CERT
      ? {
          tls: {
            key: readFileSync(config.XENFLEET_MIGRATE_TLS_KEY, "utf8"),
            cert: readFileSync(config.XENFLEET_MIGRATE_TLS_CERT, "utf8"),
          },
        }
      : {}),
    ...(config.XENFLEET_MIGRATE_TLS_CA ? { ca: readFileSync(config.XENFLEET_MIGRATE_TLS_CA, "utf8") } : {}),
  };
}

/**
 * Schema pieces for service configuration. Each service has its own
 * `config.ts` that passes `process.env` in; nothing in this package reads
 * `process.env` itself, so tests pass plain objects.
 */
import { z } from "zod";
import { parseRedisUrl } from "./connection.js";
import { ConfigError } from "./errors.js";
import { DEFAULT_PREFIX, PREFIX_PATTERN } from "./names.js";
import { storeUrl } from "./schemas/common.js";

/**
 * redis://[user:password@]host[:port][/db]; rediss:// for TLS;
 * redis+sentinel://host:port[,host:port...]/master[/db] through Sentinel;
 * redis+cluster://host:port[,host:port...] for a Redis Cluster.
 */
export const redisUrlSchema = z
  .string()
  .max(2048)
  .superRefine((s, ctx) => {
    try {
      parseRedisUrl(s);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message.replace(/^XENFLEET_REDIS:? ?/, "") });
    }
  });

export const prefixSchema = z.string().regex(PREFIX_PATTERN, "must be 1-32 of a-z, 0-9, '_', '-'");

export const logLevelSchema = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/** A TCP port; 0 turns the metrics endpoint off. */
export const portSchema = z.coerce.number().int().min(0).max(65_535);

/**
 * The metrics endpoint's port: a number (0: none), or "auto" for a free port
 * the system picks, which the service then registers (service-registry.ts):
 * many services on one machine need no port plan.
 */
export const metricsPortSchema = z.union([z.literal("auto"), portSchema]);

/** The variables every xenfleet service reads. Services `.extend()` it with their own. */
export const fleetEnvSchema = z.object({
  XENFLEET_REDIS: redisUrlSchema.default("redis://127.0.0.1:6379"),
  XENFLEET_PREFIX: prefixSchema.default(DEFAULT_PREFIX),
  /** The worker's one store, "main" (when XENFLEET_STORES does not list them). */
  XENFLEET_STORE: storeUrl.optional(),
  /** "name=url,...": the stores this worker may use (jobs name one); absent: "main" at XENFLEET_STORE. */
  XENFLEET_STORES: z
    .string()
    .max(16_384)
    .superRefine((list, ctx) => {
      try {
        for (const [name, url] of parseStoreList(list)) {
          const checked = storeUrl.safeParse(url);
          if (!checked.success)
            ctx.addIssue({ code: "custom", message: `store ${name}: ${checked.error.issues[0]!.message}` });
        }
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
      }
    })
    .optional(),
  XENFLEET_METRICS_PORT: metricsPortSchema.default(0),
  /** The address the metrics endpoint listens on. */
  XENFLEET_METRICS_BIND: z.string().min(1).max(255).default("0.0.0.0"),
  XENFLEET_LOG_LEVEL: logLevelSchema.default("info"),
});

export type FleetEnv = z.infer<typeof fleetEnvSchema>;

/**
 * Parse an environment with any schema, turning failures into one
 * ConfigError naming each bad variable and what is wrong with it. Values are
 * never echoed: XENFLEET_REDIS may carry a password.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const parsed = schema.safeParse(env);
  // A worker needs a store: one (XENFLEET_STORE) or several by name (XENFLEET_STORES).
  const needsStore = schema instanceof z.ZodObject && "XENFLEET_STORES" in schema.shape;
  const noStore = needsStore && !env.XENFLEET_STORE && !env.XENFLEET_STORES;
  if (parsed.success && !noStore) return parsed.data;
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "(env)"}: ${i.message}`);
  if (noStore) problems.push("XENFLEET_STORE: required (or XENFLEET_STORES=name=url,...)");
  throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
}

/** "main=s3://b?endpoint=...,cold=/srv/store" as [name, url] pairs; a bad entry is a ConfigError. */
export function parseStoreList(list: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const entry of list.split(",")) {
    const at = entry.indexOf("=");
    const name = entry.slice(0, at).trim();
    const url = entry.slice(at + 1).trim();
    if (at < 0 || !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(name) || url === "")
      throw new ConfigError(
        `XENFLEET_STORES entry ${JSON.stringify(name || entry.slice(0, 20))}: expected name=url, ` +
          "the name 1-32 of a-z, 0-9, '_', '-'",
      );
    if (out.some(([n]) => n === name)) throw new ConfigError(`XENFLEET_STORES names store ${name} twice`);
    out.push([name, url]);
  }
  return out;
}

/** The controller's configuration: the only place it reads the environment. */
import { cronSchema, storeCredentialsSchema, storeCredentialVariables, type StoresEnv } from "@xenfleet/fleet";
import { fleetEnvSchema, parseEnv } from "@xenfleet/jobs";
import { z } from "zod";

/** Checked here, at start, as the scheduler would read it: a bad pattern stops the controller with its name. */
const cron = cronSchema.pipe(z.string().min(1).max(128));
const flag = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

export const configSchema = fleetEnvSchema.extend(storeCredentialsSchema.shape).extend({
  /** Cron pattern of the nightly batch save; when unset the schedule stored in Redis (`xenfleet schedule nightly`) stands. */
  XENFLEET_NIGHTLY_CRON: cron.optional(),
  XENFLEET_NIGHTLY_MODE: z.enum(["checkpoint", "live", "suspend"]).default("checkpoint"),
  /** Queue a compress job after each save of a batch. */
  XENFLEET_COMPRESS: flag.default(true),
  XENFLEET_RETENTION_CRON: cron.default("30 3 * * *"),
  XENFLEET_KEEP_NIGHTLY: z.coerce.number().int().min(0).max(3650).default(7),
  XENFLEET_KEEP_WEEKLY: z.coerce.number().int().min(0).max(520).default(4),
  XENFLEET_GC_CRON: cron.default("0 5 * * *"),
  /** Store objects younger than this are never collected: a save may still be writing them. */
  XENFLEET_GC_GRACE_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(6 * 3600),
  /** Saves at once on one host. */
  XENFLEET_HOST_SAVES: z.coerce.number().int().min(1).max(64).default(2),
  /** Saves at once in the whole fleet (0: no limit). */
  XENFLEET_FLEET_SAVES: z.coerce.number().int().min(0).max(10_000).default(16),
  XENFLEET_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
});

/** The schema's variables, and each store's own credentials (named after the stores, so no schema lists them). */
export type Config = z.infer<typeof configSchema> & StoresEnv;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return { ...parseEnv(configSchema, env), ...storeCredentialVariables(env) };
}

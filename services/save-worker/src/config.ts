/** The save worker's configuration: the only place it reads the environment. */
import { hostEnvSchema, storeCredentialVariables, type StoresEnv } from "@xenfleet/fleet";
import { parseEnv } from "@xenfleet/jobs";
import { z } from "zod";

export const configSchema = hostEnvSchema.extend({
  /** zstd level of the compress jobs queued after each save. */
  XENFLEET_COMPRESS_LEVEL: z.coerce.number().int().min(1).max(22).default(3),
});

/** The schema's variables, and each store's own credentials (named after the stores, so no schema lists them). */
export type Config = z.infer<typeof configSchema> & StoresEnv;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return { ...parseEnv(configSchema, env), ...storeCredentialVariables(env) };
}

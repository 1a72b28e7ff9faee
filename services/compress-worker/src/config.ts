/** The compress worker's configuration: the only place it reads the environment. */
import { storeCredentialsSchema, storeCredentialVariables, type StoresEnv } from "@xenfleet/fleet";
import { fleetEnvSchema, parseEnv } from "@xenfleet/jobs";
import { z } from "zod";

export const configSchema = fleetEnvSchema.extend(storeCredentialsSchema.shape).extend({
  /** Jobs this process compresses at once; scale out with more processes instead. */
  XENFLEET_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
});

/** The schema's variables, and each store's own credentials (named after the stores, so no schema lists them). */
export type Config = z.infer<typeof configSchema> & StoresEnv;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return { ...parseEnv(configSchema, env), ...storeCredentialVariables(env) };
}

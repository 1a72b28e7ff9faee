/** The dashboard's configuration: the only place it reads the environment. */
import { storeCredentialsSchema, storeCredentialVariables, type StoresEnv } from "@xenfleet/fleet";
import { fleetEnvSchema, parseEnv, portSchema } from "@xenfleet/jobs";
import { z } from "zod";

export const configSchema = fleetEnvSchema.extend(storeCredentialsSchema.shape).extend({
  /** What every request must present (Bearer, or once on the login page). */
  XENFLEET_DASHBOARD_TOKEN: z.string().min(16, "required, at least 16 characters"),
  XENFLEET_DASHBOARD_PORT: portSchema.default(8080),
  /** 127.0.0.1 unless told otherwise (a container publishing the port says 0.0.0.0). */
  XENFLEET_DASHBOARD_BIND: z.union([z.ipv4(), z.ipv6()]).default("127.0.0.1"),
});

/** The schema's variables, and each store's own credentials (named after the stores, so no schema lists them). */
export type Config = z.infer<typeof configSchema> & StoresEnv;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return { ...parseEnv(configSchema, env), ...storeCredentialVariables(env) };
}

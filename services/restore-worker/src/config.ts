/** The restore worker's configuration: the only place it reads the environment. */
import { hostEnvSchema } from "@xenfleet/fleet";
import { parseEnv } from "@xenfleet/jobs";
import type { z } from "zod";

export const configSchema = hostEnvSchema;

export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseEnv(configSchema, env);
}

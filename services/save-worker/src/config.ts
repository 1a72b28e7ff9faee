/** The save worker's configuration: the only place it reads the environment. */
import { hostEnvSchema } from "@xenfleet/fleet";
import { parseEnv } from "@xenfleet/jobs";
import { z } from "zod";

export const configSchema = hostEnvSchema.extend({
  /** zstd level of the compress jobs queued after each save. */
  XENFLEET_COMPRESS_LEVEL: z.coerce.number().int().min(1).max(22).default(3),
});

export type Config = z.infer<typeof configSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseEnv(configSchema, env);
}

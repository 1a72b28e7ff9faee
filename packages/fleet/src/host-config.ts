/**
 * Configuration pieces of the services that run on a host (save and restore
 * workers). Each service's own config.ts passes process.env through these;
 * nothing here reads the environment itself.
 */
import { hostname } from "node:os";
import { fleetEnvSchema, hostIdSchema, schemas } from "@xenfleet/jobs";
import { parseSize } from "@xenfleet/core";
import { z } from "zod";

/** "64G", "512MiB", "1073741824": a byte size as xl spells memory. */
export const sizeSchema = z.string().transform((text, ctx) => {
  try {
    return parseSize(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});

/** "ssd,rack-3": placement tags, comma separated. */
export const tagsSchema = z
  .string()
  .transform((text) =>
    text
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== ""),
  )
  .pipe(schemas.labels);

/** Credentials the store reads; never part of a job or a URL. */
export const storeCredentialsSchema = z.object({
  AWS_ACCESS_KEY_ID: z.string().optional(),
  AWS_SECRET_ACCESS_KEY: z.string().optional(),
  AWS_SESSION_TOKEN: z.string().optional(),
  AWS_REGION: z.string().optional(),
  /** The key file of the encrypted stores (XENFLEET_STORE_<NAME>_KEY_FILE for one store); empty is none. */
  XENFLEET_KEY_FILE: z.string().max(4096).optional(),
});

export const hostEnvSchema = fleetEnvSchema.extend(storeCredentialsSchema.shape).extend({
  /** This host's id: its queues are save@<id>, restore@<id>. */
  XENFLEET_HOST: hostIdSchema,
  /** sim (the default, simulated domains in a state directory) or xen (libxl on a real dom0). */
  XENFLEET_HYPERVISOR: z.enum(["sim", "xen"]).default("sim"),
  /** The sim host's state directory; default .xenfleet/hosts/<host id>. */
  XENFLEET_SIM_DIR: z.string().min(1).optional(),
  /** Memory a new sim host offers its domains. */
  XENFLEET_SIM_MEMORY: sizeSchema.default(64 * 2 ** 30),
  /** Where other hosts reach this one (migration receivers); default the machine's host name. */
  XENFLEET_HOST_ADDRESS: z.string().min(1).max(255).default(hostname()),
  XENFLEET_HOST_TAGS: tagsSchema.default([]),
  /** How often the host agent beats; a host is down three missed beats later. */
  XENFLEET_HEARTBEAT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  /** Jobs this process works on at once. */
  XENFLEET_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
});

export type HostEnv = z.infer<typeof hostEnvSchema>;

/** The sim state directory of a host when none is configured. */
export function defaultSimDir(host: string): string {
  return `.xenfleet/hosts/${host}`;
}

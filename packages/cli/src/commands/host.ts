/**
 * `xenfleet run-host`: one host's workers (save, restore, migrate) under a
 * supervisor, configured by the host environment the services read
 * (XENFLEET_HOST, XENFLEET_HYPERVISOR, XENFLEET_SIM_DIR, ...), checked here
 * first so a bad variable is one line and exit code 2, not three workers
 * failing in turn. What a host container or a dom0's service unit runs.
 * With the sim backend it can create the host's domains first; with the xen
 * backend it first checks that libxl answers, and exits (code 3, the
 * reason on stderr) where it does not.
 */
import { join, resolve } from "node:path";
import type { Command } from "commander";
import {
  definedOnly,
  hostChildren,
  hostEnvSchema,
  hostHypervisor,
  prepareSimHost,
  Supervisor,
  type HostEnv,
} from "@xenfleet/fleet";
import { parseEnv } from "@xenfleet/jobs";
import { count, sizeOption } from "../args.js";

/** What each variable of the host environment means, for the help (the schema holds the names and checks). */
const HOST_VARIABLES: Record<string, string> = {
  XENFLEET_HOST: "this host's id (required)",
  XENFLEET_STORE: "the object store URL (required)",
  XENFLEET_REDIS: "Redis URL (default redis://127.0.0.1:6379)",
  XENFLEET_PREFIX: "key prefix of the fleet in Redis (default xenfleet)",
  XENFLEET_HYPERVISOR: "sim (default) or xen",
  XENFLEET_SIM_DIR: "sim: the host's state directory (default .xenfleet/hosts/<host>)",
  XENFLEET_SIM_MEMORY: "sim: memory the host offers (default 64G)",
  XENFLEET_HOST_ADDRESS: "where other hosts reach this one for migrations (default: the host name)",
  XENFLEET_HOST_TAGS: "placement tags, comma separated",
  XENFLEET_HEARTBEAT_MS: "heartbeat interval in milliseconds (default 5000)",
  XENFLEET_CONCURRENCY: "jobs each worker runs at once (default 1)",
  XENFLEET_METRICS_PORT:
    "first of three Prometheus ports (save, restore, migrate; 0: none (default), auto: free ports)",
  XENFLEET_METRICS_BIND: "address the metrics endpoints listen on (default 0.0.0.0)",
  XENFLEET_LOG_LEVEL: "log level of the workers (default info)",
};

/** The help's list: every XENFLEET_* variable of the host schema, and the workers' own. */
export function hostVariablesHelp(): string {
  const names = Object.keys(hostEnvSchema.shape).filter((k) => k.startsWith("XENFLEET_"));
  const width = Math.max(...names.map((n) => n.length));
  return [
    "Environment (read by run-host and its workers):",
    ...names.map((n) => `  ${n.padEnd(width)}  ${HOST_VARIABLES[n] ?? ""}`.trimEnd()),
    "  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION: S3 store credentials",
    "The save worker also reads XENFLEET_COMPRESS_LEVEL; the migrate worker XENFLEET_MIGRATE_*",
    "(see services/save-worker and services/migrate-worker).",
  ].join("\n");
}

export function registerHostCommand(program: Command): void {
  program
    .command("run-host")
    .description("Run one host's workers (save, restore, migrate), supervised; configured by XENFLEET_* variables")
    .option("--sim-domains <m>", "sim backend: create domains <host>-vm-1 ... <host>-vm-M if missing", count, 0)
    .addOption(sizeOption("--memory <size>", "memory of each created domain", "64M"))
    .option("--dirty-rate <pages>", "pages per second each created domain writes", count, 100)
    .option("--log-dir <dir>", "the workers' log files; '-': on this command's stdout and stderr", ".xenfleet/logs")
    .addHelpText("after", `\n${hostVariablesHelp()}`)
    .action(async (opts) => {
      const env = definedOnly(process.env);
      const config = parseEnv(hostEnvSchema, env);
      const host = config.XENFLEET_HOST;
      const log = (line: string) => process.stderr.write(`run-host ${host}: ${line}\n`);
      // The workers would each fail on a machine without Xen, and say so only
      // in their logs: ask libxl once here, so the reason is this command's error.
      if (config.XENFLEET_HYPERVISOR === "xen") await checkXen(config);
      if (config.XENFLEET_HYPERVISOR === "sim" && opts.simDomains > 0) {
        const dir = resolve(config.XENFLEET_SIM_DIR ?? join(".xenfleet", "hosts", host));
        const created = await prepareSimHost({
          host,
          dir,
          hostMemoryBytes: config.XENFLEET_SIM_MEMORY,
          domains: opts.simDomains,
          domainMemoryBytes: opts.memory,
          dirtyPagesPerSec: opts.dirtyRate,
          seedBase: 1000,
        });
        env.XENFLEET_SIM_DIR = dir;
        if (created.length > 0) log(`created ${created.length} sim domains`);
      }
      const supervisor = new Supervisor({
        logDir: opts.logDir === "-" ? undefined : resolve(opts.logDir),
        onEvent: (e) =>
          log(
            e.type === "started"
              ? `${e.name} started (pid ${e.pid})`
              : `${e.name} exited (${e.signal ?? `code ${e.code}`})`,
          ),
      });
      supervisor.start(hostChildren(host, env));
      await new Promise<void>((done) => {
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      });
      log("stopping");
      await supervisor.stop();
    });
}

/** Opens libxl and reads the host's memory once: XenUnavailableError (exit code 3) where there is no Xen. */
async function checkXen(config: HostEnv): Promise<void> {
  const hypervisor = await hostHypervisor(config);
  try {
    await hypervisor.hostInfo();
  } finally {
    (hypervisor as { close?: () => void }).close?.();
  }
}

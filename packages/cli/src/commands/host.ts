/**
 * `xenfleet run-host`: one host's workers (save, restore, migrate) under a
 * supervisor, configured by the host environment the services read
 * (XENFLEET_HOST, XENFLEET_HYPERVISOR, XENFLEET_SIM_DIR, ...). What a host
 * container or a dom0's service unit runs. With the sim backend it can
 * create the host's domains first.
 */
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { definedOnly, hostChildren, prepareSimHost, Supervisor } from "@xenfleet/fleet";
import { assertHostId } from "@xenfleet/jobs";
import { fail, integer, size } from "./fleet-options.js";

export function registerHostCommand(program: Command): void {
  program
    .command("run-host")
    .description("Run one host's workers (save, restore, migrate), supervised; configured by XENFLEET_* variables")
    .option("--sim-domains <m>", "sim backend: create domains <host>-vm-1 ... <host>-vm-M if missing", integer, 0)
    .option("--memory <size>", "memory of each created domain", size, size("64M"))
    .option("--dirty-rate <pages>", "pages per second each created domain writes", integer, 100)
    .option("--log-dir <dir>", "the workers' log files", ".xenfleet/logs")
    .action(async (opts) => {
      try {
        const env = definedOnly(process.env);
        const host = assertHostId(env.XENFLEET_HOST ?? "");
        const log = (line: string) => process.stderr.write(`run-host ${host}: ${line}\n`);
        if ((env.XENFLEET_HYPERVISOR ?? "sim") === "sim" && opts.simDomains > 0) {
          const dir = resolve(env.XENFLEET_SIM_DIR ?? join(".xenfleet", "hosts", host));
          const created = await prepareSimHost({
            host,
            dir,
            hostMemoryBytes: env.XENFLEET_SIM_MEMORY !== undefined ? size(env.XENFLEET_SIM_MEMORY) : 64 * 2 ** 30,
            domains: opts.simDomains,
            domainMemoryBytes: opts.memory,
            dirtyPagesPerSec: opts.dirtyRate,
            seedBase: 1000,
          });
          env.XENFLEET_SIM_DIR = dir;
          if (created.length > 0) log(`created ${created.length} sim domains`);
        }
        const supervisor = new Supervisor({
          logDir: resolve(opts.logDir),
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
      } catch (err) {
        fail(err, false);
      }
    });
}

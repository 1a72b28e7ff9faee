/**
 * Commands against a running fleet: what hosts and domains there are, and
 * starting work (save, batch-save, restore, schedules), watching it (status).
 */
import type { Command } from "commander";
import { listHosts, type HostStatus } from "@xenfleet/jobs";
import { addFleetOptions, fail, fleetOptions, mib, withRedis } from "./fleet-options.js";
import { registerScheduleCommands } from "./schedule.js";
import { registerStatusCommand } from "./status.js";
import { registerWorkCommands } from "./work.js";

export function registerFleetCommands(program: Command): void {
  addFleetOptions(program.command("hosts"))
    .description("List the fleet's hosts: up, down (heartbeat lapsed) or draining, memory, domains")
    .option("--json", "print a JSON array")
    .action(async (opts) => {
      try {
        const hosts = await withRedis(fleetOptions(opts), (redis) => listHosts(redis, opts.prefix));
        if (opts.json) process.stdout.write(JSON.stringify(hosts.map(hostJson)) + "\n");
        else printHosts(hosts);
      } catch (err) {
        fail(err, opts.json);
      }
    });

  addFleetOptions(program.command("domains"))
    .description("List the domains every host last reported")
    .option("--host <id>", "only this host's domains")
    .option("--json", "print a JSON array")
    .action(async (opts) => {
      try {
        const hosts = await withRedis(fleetOptions(opts), (redis) => listHosts(redis, opts.prefix));
        const domains = hosts
          .filter((h) => opts.host === undefined || h.id === opts.host)
          .flatMap((h) =>
            (h.info?.domains ?? []).map((d) => ({
              uuid: d.uuid,
              name: d.name,
              host: h.id,
              state: d.state,
              memory: d.memory,
            })),
          );
        if (opts.json) process.stdout.write(JSON.stringify(domains) + "\n");
        else {
          process.stdout.write(
            `${"HOST".padEnd(12)} ${"NAME".padEnd(20)} ${"STATE".padEnd(8)} ${"MEMORY".padStart(10)}  UUID\n`,
          );
          for (const d of domains) {
            process.stdout.write(
              `${d.host.padEnd(12)} ${d.name.padEnd(20)} ${d.state.padEnd(8)} ${mib(d.memory).padStart(10)}  ${d.uuid}\n`,
            );
          }
        }
      } catch (err) {
        fail(err, opts.json);
      }
    });

  registerWorkCommands(program);
  registerScheduleCommands(program);
  registerStatusCommand(program);
}

function hostJson(h: HostStatus) {
  return {
    id: h.id,
    state: h.state,
    draining: h.draining,
    address: h.info?.address ?? null,
    memoryTotal: h.info?.memoryTotal ?? null,
    memoryFree: h.info?.memoryFree ?? null,
    tags: h.info?.tags ?? [],
    domains: h.info?.domains.length ?? 0,
    ...(h.problem !== undefined ? { problem: h.problem } : {}),
  };
}

function printHosts(hosts: HostStatus[]): void {
  process.stdout.write(
    `${"HOST".padEnd(12)} ${"STATE".padEnd(9)} ${"FREE".padStart(10)} ${"TOTAL".padStart(10)} ${"DOMAINS".padStart(7)}  TAGS\n`,
  );
  for (const h of hosts) {
    const i = h.info;
    process.stdout.write(
      `${h.id.padEnd(12)} ${h.state.padEnd(9)} ${(i ? mib(i.memoryFree) : "-").padStart(10)} ${(i ? mib(i.memoryTotal) : "-").padStart(10)} ${String(i?.domains.length ?? 0).padStart(7)}  ${i?.tags.join(",") ?? ""}${h.problem ? `  (${h.problem})` : ""}\n`,
    );
  }
}

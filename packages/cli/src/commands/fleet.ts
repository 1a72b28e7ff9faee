/**
 * Commands against a running fleet: what hosts (hosts.ts) and domains there are, and
 * starting work (save, batch-save, restore, schedules), watching it (status).
 */
import type { Command } from "commander";
import { formatSize } from "@xenfleet/core";
import { listHosts } from "@xenfleet/jobs";
import { emit, table } from "../output.js";
import { hostId } from "../args.js";
import { addRedisOptions, withRedis } from "./fleet-options.js";
import { registerHostsCommands } from "./hosts.js";
import { registerScheduleCommands } from "./schedule.js";
import { registerStatusCommand } from "./status.js";
import { unknownHost } from "./subjects.js";
import { registerRestoreCommands } from "./restore.js";
import { registerVerifyCommand } from "./verify.js";
import { registerWorkCommands } from "./work.js";

export function registerFleetCommands(program: Command): void {
  registerHostsCommands(program);

  addRedisOptions(program.command("domains"))
    .description("List the domains every host last reported")
    .option("--host <id>", "only this host's domains", hostId)
    .option("--json", 'print {"ok": true, "domains": [...]}')
    .action(async (opts) => {
      const hosts = await withRedis(opts, (redis) => listHosts(redis, opts.prefix));
      if (opts.host !== undefined && !hosts.some((h) => h.id === opts.host)) throw unknownHost(opts.host);
      const domains = hosts
        .filter((h) => opts.host === undefined || h.id === opts.host)
        .flatMap((h) =>
          (h.info?.domains ?? []).map((d) => ({
            domain: d.name,
            uuid: d.uuid,
            host: h.id,
            state: d.state,
            memory: d.memory,
          })),
        );
      emit(opts.json, { domains }, () =>
        table(
          [
            { header: "HOST" },
            { header: "DOMAIN" },
            { header: "STATE" },
            { header: "MEMORY", right: true },
            { header: "UUID" },
          ],
          domains.map((d) => [d.host, d.domain, d.state, formatSize(d.memory), d.uuid]),
        ),
      );
    });

  registerWorkCommands(program);
  registerRestoreCommands(program);
  registerScheduleCommands(program);
  registerVerifyCommand(program);
  registerStatusCommand(program);
}

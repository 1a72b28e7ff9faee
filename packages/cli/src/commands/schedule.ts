/** `xenfleet schedule`: the nightly batch save as a cron schedule kept in Redis. */
import type { Command } from "commander";
import { listSchedules, removeSchedule, scheduleNightly } from "@xenfleet/fleet";
import { addFleetOptions, fail, fleetOptions, integer, list, withRedis } from "./fleet-options.js";

export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command("schedule")
    .description("Recurring batch saves (kept in Redis, run by the controller)");

  addFleetOptions(schedule.command("nightly"))
    .description("Save every domain on every host that is up, on a cron schedule")
    .option("--cron <expr>", "cron pattern, e.g. '0 2 * * *' (02:00 daily)")
    .option("--tz <zone>", "time zone of the pattern, e.g. Europe/Paris")
    .option("--every <ms>", "a fixed interval in milliseconds instead of a cron pattern", integer)
    .option("--mode <mode>", "checkpoint, live or suspend", "checkpoint")
    .option("--label <labels>", "retention labels, comma separated", list, ["nightly"])
    .option("--hosts <ids>", "only these hosts, comma separated", list)
    .option("--json", "print JSON")
    .action(async (opts) => {
      try {
        if ((opts.cron === undefined) === (opts.every === undefined))
          throw new Error("give exactly one of --cron and --every");
        if (opts.mode !== "checkpoint" && opts.mode !== "live" && opts.mode !== "suspend")
          throw new Error("--mode must be checkpoint, live or suspend");
        const options = fleetOptions(opts);
        const repeat =
          opts.cron !== undefined
            ? { cron: opts.cron as string, ...(opts.tz ? { tz: opts.tz as string } : {}) }
            : { everyMs: opts.every as number };
        const schedules = await withRedis(options, async (redis) => {
          await scheduleNightly(redis, options.prefix, repeat, {
            store: options.store,
            mode: opts.mode,
            labels: opts.label,
            ...(opts.hosts !== undefined ? { hosts: opts.hosts } : {}),
          });
          return listSchedules(redis, options.prefix);
        });
        const nightly = schedules.find((s) => s.id === "nightly");
        if (opts.json) process.stdout.write(JSON.stringify({ ok: true, schedule: nightly }) + "\n");
        else
          process.stdout.write(
            `nightly batch save scheduled: ${nightly?.pattern ?? `every ${nightly?.every} ms`}${nightly?.next ? `, next run ${new Date(nightly.next).toISOString()}` : ""}\n`,
          );
      } catch (err) {
        fail(err, opts.json);
      }
    });

  addFleetOptions(schedule.command("list"))
    .description("List the schedules")
    .option("--json", "print a JSON array")
    .action(async (opts) => {
      try {
        const options = fleetOptions(opts);
        const schedules = await withRedis(options, (redis) => listSchedules(redis, options.prefix));
        if (opts.json) process.stdout.write(JSON.stringify(schedules) + "\n");
        else
          for (const s of schedules)
            process.stdout.write(
              `${s.id.padEnd(10)} ${s.pattern ?? `every ${s.every} ms`}${s.next ? `  next ${new Date(s.next).toISOString()}` : ""}\n`,
            );
      } catch (err) {
        fail(err, opts.json);
      }
    });

  addFleetOptions(schedule.command("remove"))
    .description("Remove a schedule")
    .argument("<id>", "nightly, retention or gc")
    .action(async (id: string, opts) => {
      try {
        if (id !== "nightly" && id !== "retention" && id !== "gc")
          throw new Error("schedule id is nightly, retention or gc");
        const options = fleetOptions(opts);
        const removed = await withRedis(options, (redis) => removeSchedule(redis, options.prefix, id));
        process.stdout.write(removed ? `removed ${id}\n` : `no schedule ${id}\n`);
      } catch (err) {
        fail(err, false);
      }
    });
}

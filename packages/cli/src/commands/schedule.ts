/** `xenfleet schedule`: the nightly batch save as a cron schedule kept in Redis. */
import { Argument, type Command } from "commander";
import { formatDuration } from "@xenfleet/core";
import {
  checkCron,
  listSchedules,
  removeSchedule,
  scheduleNightly,
  scheduleVerify,
  type Repeat,
  type ScheduleInfo,
} from "@xenfleet/fleet";
import { cron, durationOption, hostIds, labelsOption } from "../args.js";
import { NotFoundError, UsageError } from "../errors.js";
import { emit, iso, seconds, table } from "../output.js";
import { addFleetOptions, addRedisOptions, fleetOptions, withRedis } from "./fleet-options.js";
import { registeredHosts } from "./subjects.js";
import { addVerifyRunOptions, verifyRunOptions } from "./verify.js";
import { modeOption } from "./work.js";

export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command("schedule")
    .description("Recurring batch saves and verify runs (kept in Redis, run by the controller)");

  addRepeatOptions(
    addFleetOptions(schedule.command("nightly")).description(
      "Save every domain on every host that is up, on a cron schedule or at a fixed interval (give one of --cron and --every)",
    ),
  )
    .addOption(modeOption())
    .addOption(labelsOption("--label <labels>", "labels of the images, comma separated", "nightly"))
    .option("--hosts <ids>", "only these hosts, comma separated", hostIds)
    .option("--json", "print the schedule as one JSON document")
    .action(async (opts) => {
      const repeat = repeatOf(opts);
      const options = fleetOptions(opts);
      const nightly = await withRedis(options, async (redis) => {
        if (opts.hosts !== undefined) await registeredHosts(redis, options.prefix, opts.hosts);
        await scheduleNightly(redis, options.prefix, repeat, {
          store: options.store,
          mode: opts.mode,
          labels: opts.label,
          ...(opts.hosts !== undefined ? { hosts: opts.hosts } : {}),
        });
        return (await listSchedules(redis, options.prefix)).find((s) => s.id === "nightly");
      });
      const doc = nightly === undefined ? { id: "nightly" } : scheduleJson(nightly);
      emit(
        opts.json,
        { schedule: { ...doc, ...(opts.tz ? { tz: opts.tz } : {}) } },
        () => `nightly batch save scheduled: ${when(nightly)}${nightly?.next ? `, next run ${iso(nightly.next)}` : ""}`,
      );
    });

  addVerifyRunOptions(
    addRepeatOptions(
      addFleetOptions(schedule.command("verify")).description(
        "Verify the store's images not verified within --outdated-after, on a cron schedule or at a fixed interval (give one of --cron and --every)",
      ),
    ),
  )
    .option("--json", "print the schedule as one JSON document")
    .action(async (opts) => {
      const repeat = repeatOf(opts);
      const options = fleetOptions(opts);
      const run = verifyRunOptions(options.store, opts);
      const verify = await withRedis(options, async (redis) => {
        if (run.healthCheck !== undefined) await registeredHosts(redis, options.prefix, [run.healthCheck.host]);
        await scheduleVerify(redis, options.prefix, repeat, run);
        return (await listSchedules(redis, options.prefix)).find((s) => s.id === "verify");
      });
      const doc = verify === undefined ? { id: "verify" } : scheduleJson(verify);
      emit(
        opts.json,
        { schedule: { ...doc, ...(opts.tz ? { tz: opts.tz } : {}) } },
        () => `verify run scheduled: ${when(verify)}${verify?.next ? `, next run ${iso(verify.next)}` : ""}`,
      );
    });

  addRedisOptions(schedule.command("list"))
    .description("List the schedules")
    .option("--json", 'print {"ok": true, "schedules": [...]}')
    .action(async (opts) => {
      const schedules = await withRedis(opts, (redis) => listSchedules(redis, opts.prefix));
      emit(opts.json, { schedules: schedules.map(scheduleJson) }, () =>
        table(
          [{ header: "SCHEDULE" }, { header: "WHEN" }, { header: "NEXT" }],
          schedules.map((s) => [s.id, when(s), iso(s.next) ?? "-"]),
        ),
      );
    });

  addRedisOptions(schedule.command("remove"))
    .description("Remove a schedule")
    .addArgument(new Argument("<id>", "the schedule").choices(["nightly", "retention", "gc", "verify"]))
    .option("--json", "print the result as one JSON document")
    .action(async (id: "nightly" | "retention" | "gc" | "verify", opts) => {
      const removed = await withRedis(opts, (redis) => removeSchedule(redis, opts.prefix, id));
      if (!removed) throw new NotFoundError("schedule", id, `no schedule ${id} is set`);
      emit(opts.json, { id, removed }, () => `removed schedule ${id}`);
    });
}

/** When a schedule runs: --cron (and --tz), or --every (and --now). */
function addRepeatOptions(command: Command): Command {
  return command
    .option("--cron <expr>", "cron pattern, e.g. '0 2 * * *' (02:00 daily); 5 fields, or 6 with seconds first", cron)
    .option("--tz <zone>", "time zone of the cron pattern, e.g. Europe/Paris (default: the controller's)")
    .addOption(durationOption("--every <duration>", "a fixed interval instead of a cron pattern, e.g. 6h"))
    .option("--now", "with --every: start the first run at once (otherwise one interval from now)");
}

/** The repeat those options give, checked. */
function repeatOf(opts: { cron?: string; tz?: string; every?: number; now?: boolean }): Repeat {
  if ((opts.cron === undefined) === (opts.every === undefined))
    throw new UsageError("give exactly one of --cron and --every");
  if (opts.tz !== undefined && opts.cron === undefined) throw new UsageError("--tz goes with --cron");
  if (opts.now && opts.every === undefined) throw new UsageError("--now goes with --every");
  if (opts.every !== undefined && opts.every < 1000) throw new UsageError("--every must be at least 1s");
  if (opts.cron !== undefined) {
    checkCron(opts.cron, opts.tz);
    return { cron: opts.cron, ...(opts.tz ? { tz: opts.tz } : {}) };
  }
  return { everyMs: opts.every!, now: opts.now === true };
}

/** A schedule in a JSON document. */
export function scheduleJson(s: ScheduleInfo) {
  return {
    id: s.id,
    job: s.name,
    ...(s.pattern !== undefined ? { cron: s.pattern } : {}),
    ...(s.every !== undefined ? { everySeconds: seconds(s.every) } : {}),
    next: iso(s.next),
  };
}

/** When a schedule runs, for people. */
export function when(s: ScheduleInfo | undefined): string {
  if (s?.pattern !== undefined) return s.pattern;
  return s?.every !== undefined ? `every ${formatDuration(s.every)}` : "?";
}

/**
 * `xenfleet verify-all`: a verify run now, the one `schedule verify` runs on
 * its schedule: the controller verifies every image of the store not
 * verified within the window, on the compress workers, and reports.
 */
import type { Command } from "commander";
import { formatDuration } from "@xenfleet/core";
import { startVerifyRun, waitForVerifyRun, type VerifyRunOptions } from "@xenfleet/fleet";
import type { CheckSubset } from "@xenfleet/image";
import type { JobResult } from "@xenfleet/jobs";
import { checkSubset, durationOption, hostId } from "../args.js";
import { UsageError, WorkFailedError } from "../errors.js";
import { emit } from "../output.js";
import { addFleetOptions, fleetOptions, withRedis } from "./fleet-options.js";
import { upHost } from "./subjects.js";

/** The options a verify run takes, on `verify-all` and `schedule verify`. */
export function addVerifyRunOptions(command: Command): Command {
  return command
    .addOption(
      durationOption(
        "--outdated-after <duration>",
        "skip images verified less than this long ago, e.g. 30d (default: verify every image)",
      ),
    )
    .option(
      "--subset <slice>",
      "read only this slice of each image's packs: n/m (1/7 ... 7/7 read everything in seven runs) or a percentage such as 10%",
      checkSubset,
    )
    .option(
      "--health-check-host <id>",
      "also health-check the newest image of every domain on this host (a paused copy restored, run, destroyed)",
      hostId,
    )
    .addOption(
      durationOption(
        "--health-check-deadline <duration>",
        "with --health-check-host: each copy must run within this long (default 10m)",
      ),
    );
}

const DEFAULT_HEALTH_DEADLINE_MS = 10 * 60_000;

/** The run's options from those flags, checked. */
export function verifyRunOptions(
  store: string,
  opts: { outdatedAfter?: number; subset?: CheckSubset; healthCheckHost?: string; healthCheckDeadline?: number },
): VerifyRunOptions {
  if (opts.outdatedAfter !== undefined && opts.outdatedAfter < 1000)
    throw new UsageError("--outdated-after must be at least 1s");
  if (opts.healthCheckDeadline !== undefined && opts.healthCheckHost === undefined)
    throw new UsageError("--health-check-deadline goes with --health-check-host");
  const deadline = opts.healthCheckDeadline ?? DEFAULT_HEALTH_DEADLINE_MS;
  if (deadline < 1000 || deadline > 86_400_000)
    throw new UsageError("--health-check-deadline must be between 1s and 24h");
  return {
    store,
    ...(opts.outdatedAfter !== undefined ? { outdatedAfterSeconds: Math.round(opts.outdatedAfter / 1000) } : {}),
    ...(opts.subset !== undefined ? { subset: opts.subset } : {}),
    ...(opts.healthCheckHost !== undefined
      ? { healthCheck: { host: opts.healthCheckHost, deadlineSeconds: Math.ceil(deadline / 1000) } }
      : {}),
  };
}

export function registerVerifyCommand(program: Command): void {
  addVerifyRunOptions(
    addFleetOptions(program.command("verify-all")).description(
      "Verify every image of the store not verified within --outdated-after, on the compress workers, recording each result beside its image",
    ),
  )
    .option("--wait", "wait for the run to finish and print its report (exit 1 when an image is broken)")
    .option("--json", "print the result as one JSON document")
    .action(async (opts) => {
      const options = fleetOptions(opts);
      const run = verifyRunOptions(options.store, opts);
      await withRedis(options, async (redis) => {
        if (run.healthCheck !== undefined) await upHost(redis, options.prefix, run.healthCheck.host);
        const started = await startVerifyRun(redis, options.prefix, run);
        if (!opts.wait)
          return emit(opts.json, { ...started, state: "queued" }, () => `queued verify run ${started.runId}`);
        const done = await waitForVerifyRun(redis, options.prefix, started.jobId);
        if (done.report === undefined)
          throw new WorkFailedError(`verify run ${started.runId} failed: ${done.error ?? "unknown reason"}`, {
            report: started,
            text: "",
          });
        const report = { jobId: started.jobId, ...reportJson(done.report) };
        const text = verifyReportText(done.report, run.outdatedAfterSeconds);
        const unhealthy = done.report.healthChecks?.failed.length ?? 0;
        if (done.report.broken.length > 0 || done.report.failed.length > 0 || unhealthy > 0)
          throw new WorkFailedError(
            `verify run ${started.runId}: ${done.report.broken.length} images broken, ${done.report.failed.length} not verified, ${unhealthy} health checks failed`,
            { report, text },
          );
        emit(opts.json, report, () => text);
      });
    });
}

/** The report as JSON: the job's result without its version. */
function reportJson(r: JobResult<"verify-run">) {
  const { v: _v, startedAt, ...rest } = r;
  return { ...rest, startedAt: new Date(startedAt).toISOString() };
}

/** The report for people. */
export function verifyReportText(r: JobResult<"verify-run">, outdatedAfterSeconds?: number): string {
  const window = outdatedAfterSeconds === undefined ? "" : ` within ${formatDuration(outdatedAfterSeconds * 1000)}`;
  return [
    `verify run ${r.runId}: ${r.images} images, ${r.verified} verified (${r.intact} intact, ${r.broken.length} broken), ${r.skippedRecent} skipped as verified${window}`,
    ...r.broken.map((b) => `  broken ${b.imageId}: ${b.key}: ${b.reason}`),
    ...r.failed.map((f) => `  not verified ${f.imageId}: ${f.reason}`),
    ...(r.healthChecks === undefined
      ? []
      : [
          `health checks: ${r.healthChecks.passed} passed, ${r.healthChecks.failed.length} failed`,
          ...r.healthChecks.failed.map((f) => `  failed ${f.imageId}: ${f.reason}`),
        ]),
    `store: ${r.unverified} images unverified, ${r.brokenTotal} broken`,
  ].join("\n");
}

/**
 * `xenfleet image health-check ID --host H`: a health-check job on the
 * host's restore queue (a paused copy of the image under a new uuid and
 * name, checked to run, destroyed), waited for; its verdict is recorded
 * beside the image (`image ls` shows it). Exit 1 when the check fails.
 */
import type { Command } from "commander";
import { formatDuration } from "@xenfleet/core";
import { hostQueue, JOB_SPECS, jobData, parseResult } from "@xenfleet/jobs";
import { durationOption, hostId } from "../args.js";
import { UsageError, WorkFailedError } from "../errors.js";
import { emit } from "../output.js";
import { addFleetOptions, fleetOptions, withRedis } from "./fleet-options.js";
import { readImage } from "./restore.js";
import { upHost } from "./subjects.js";
import { addJob, followJob } from "./work.js";

export function registerHealthCheckCommand(image: Command): void {
  addFleetOptions(image.command("health-check"))
    .description(
      "Restore an image on a host as a paused copy (new uuid, unique name), check it runs (on the sim: its memory matches the save's), destroy it; records the verdict beside the image",
    )
    .argument("<id>", "image id (or a unique prefix of at least 8 hex digits)")
    .requiredOption("--host <id>", "the host to run the copy on", hostId)
    .addOption(durationOption("--deadline <duration>", "the copy must run within this long", "10m"))
    .option("--json", "print the result as one JSON document")
    .action(async (imageArg: string, opts) => {
      if (opts.deadline < 1000 || opts.deadline > 86_400_000)
        throw new UsageError("--deadline must be between 1s and 24h");
      const options = fleetOptions(opts);
      const { imageId } = await readImage(options.store, imageArg);
      await withRedis(options, async (redis) => {
        await upHost(redis, options.prefix, opts.host);
        const queueName = hostQueue("restore", opts.host);
        const data = jobData("health-check", {
          host: opts.host,
          store: options.store,
          image: imageId,
          deadlineSeconds: Math.ceil(opts.deadline / 1000),
        });
        const job = await addJob(
          redis,
          options.prefix,
          queueName,
          "health-check",
          data,
          JOB_SPECS["health-check"].options,
        );
        const label = `health check of ${imageId.slice(0, 12)} on ${opts.host}`;
        const done = await followJob(redis, options.prefix, queueName, job, label);
        if (done.state === "failed")
          throw new WorkFailedError(`${label} could not run: ${done.failedReason}`, {
            report: { imageId, host: opts.host },
            text: "",
          });
        const r = parseResult("health-check", done.returnvalue);
        const { v: _v, ...result } = r;
        const report = { ...result, host: opts.host as string };
        const text = r.passed
          ? `passed ${imageId}: a copy ran on ${opts.host} (digest ${r.digest}) in ${formatDuration(r.seconds * 1000)}, and was destroyed`
          : `FAILED ${imageId} on ${opts.host}: ${r.reason ?? "unknown reason"} (the copy was destroyed)`;
        if (!r.passed) throw new WorkFailedError(`${label} failed: ${r.reason ?? "unknown reason"}`, { report, text });
        emit(opts.json, report, () => text);
      });
    });
}

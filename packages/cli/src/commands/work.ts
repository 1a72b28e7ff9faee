/** Commands that start work: save one domain, batch-save hosts (restore.ts: restore and clone an image). */
import { poll } from "@xenfleet/core";
import { Queue } from "bullmq";
import { Option, type Command } from "commander";
import { startBatch, waitForBatch, withSkipped, type BatchProgress, type StartedBatch } from "@xenfleet/fleet";
import {
  bullPrefix,
  hostQueue,
  JOB_SPECS,
  jobData,
  jobWithState,
  JobNotFoundError,
  parseProgress,
  parseResult,
  type RedisClient,
} from "@xenfleet/jobs";
import { hostId, hostIds, labelsOption } from "../args.js";
import { WorkFailedError } from "../errors.js";
import { emit, seconds } from "../output.js";
import { addFleetOptions, fleetOptions, withRedis } from "./fleet-options.js";
import { fromBatch, reportText, type WorkReport } from "./fleet-report.js";
import { batchStep, tracker, type Step } from "./progress.js";
import { findDomain, upHost } from "./subjects.js";

export function modeOption(): Option {
  return new Option(
    "--mode <mode>",
    "checkpoint (paused while saved), live (pre-copy, paused for the final pass) or suspend (stopped)",
  )
    .choices(["checkpoint", "live", "suspend"])
    .default("checkpoint");
}

export function registerWorkCommands(program: Command): void {
  addFleetOptions(program.command("save"))
    .description("Save one domain of a host into the store (incremental against its previous image)")
    .argument("<host>", "host id", hostId)
    .argument("<domain>", "domain name or uuid")
    .addOption(modeOption())
    .addOption(labelsOption("--label <labels>", "labels of the image, comma separated (e.g. nightly)"))
    .option("--no-compress", "leave the image's packs raw")
    .option("--wait", "wait for the save to finish and print the report")
    .option("--json", "print the result as one JSON document")
    .action(async (host: string, domainArg: string, opts) => {
      const options = fleetOptions(opts);
      await withRedis(options, async (redis) => {
        const target = await upHost(redis, options.prefix, host);
        const { domain: d } = findDomain([target], domainArg, `host ${host} reports no domain`);
        const subject = { host, domain: d.name, uuid: d.uuid };
        const data = jobData("save", {
          host,
          domain: { uuid: d.uuid, name: d.name },
          store: options.store,
          mode: opts.mode,
          labels: opts.label ?? [],
          compress: opts.compress,
        });
        const queueName = hostQueue("save", host);
        const job = await addJob(redis, options.prefix, queueName, "save", data, JOB_SPECS.save.options);
        if (!opts.wait)
          return emit(
            opts.json,
            { jobId: job, queue: queueName, ...subject, state: "queued" },
            () => `queued save of ${d.name} (${d.uuid}) on ${host}: job ${job}`,
          );
        const done = await followJob(redis, options.prefix, queueName, job, `save of ${d.name} on ${host}`);
        const elapsed = ((done.finishedOn ?? Date.now()) - done.timestamp) / 1000;
        if (done.state === "completed") {
          const r = parseResult("save", done.returnvalue);
          const report: WorkReport = {
            saved: 1,
            failed: 0,
            bytesTotal: r.bytesTotal,
            bytesNew: r.bytesNew,
            seconds: elapsed,
            failures: [],
          };
          return emit(
            opts.json,
            {
              ...subject,
              imageId: r.imageId,
              ...report,
              ...(r.pausedMs !== undefined ? { pausedSeconds: seconds(r.pausedMs) } : {}),
            },
            () => `${r.imageId}\n${reportText(report)}`,
          );
        }
        const report: WorkReport = {
          saved: 0,
          failed: 1,
          bytesTotal: 0,
          bytesNew: 0,
          seconds: elapsed,
          failures: [{ host, uuid: d.uuid, reason: done.failedReason }],
        };
        throw new WorkFailedError(`save of ${d.name} on ${host} failed: ${done.failedReason}`, {
          report: { ...subject, ...report },
          text: reportText(report),
        });
      });
    });

  addFleetOptions(program.command("batch-save"))
    .description("Save every domain of the chosen hosts (all hosts by default) as one batch with a final report")
    .option("--hosts <ids>", "only these hosts, comma separated", hostIds)
    .addOption(modeOption())
    .addOption(labelsOption("--label <labels>", "labels of the images, comma separated", "nightly"))
    .option("--no-compress", "leave the images' packs raw")
    .option("--wait", "wait for the batch to finish and print the report")
    .option("--json", "print the result as one JSON document")
    .action(async (opts) => {
      const options = fleetOptions(opts);
      await withRedis(options, async (redis) => {
        const batch = await startBatch(redis, options.prefix, {
          store: options.store,
          mode: opts.mode,
          labels: opts.label,
          compress: opts.compress,
          ...(opts.hosts !== undefined ? { hosts: opts.hosts } : {}),
        });
        // Each host's copy of a duplicated uuid is saved; say so, since their images share the uuid's history.
        for (const d of batch.duplicates)
          process.stderr.write(`warning: domain ${d.uuid} is reported by hosts ${d.hosts.join(", ")}; saved on each\n`);
        const started = startedJson(batch);
        if (!opts.wait)
          return emit(opts.json, { ...started, state: "queued" }, () =>
            [
              `queued batch ${batch.batchId}: ${batch.total} saves`,
              ...batch.skipped.map((s) => `  skipped ${s.domain.name} (${s.domain.uuid}) on ${s.host}: ${s.reason}`),
            ].join("\n"),
          );
        const progress = tracker();
        let done: BatchProgress;
        try {
          done = await waitForBatch(redis, options.prefix, batch.jobId, {
            onProgress: (p) => progress.update(p.jobId, batchStep(p)),
          });
        } finally {
          progress.stop();
        }
        if (done.report === undefined)
          throw new WorkFailedError(`batch ${batch.batchId} failed: ${done.error ?? "unknown reason"}`, {
            report: started,
            text: "",
          });
        const report = { ...fromBatch(withSkipped(done.report, batch.skipped)), ...started };
        // A domain left unsaved (its host down) has no backup tonight: the other hosts' saves ran, and the
        // exit code still says the batch is not whole, so cron can tell (`hosts forget` retires a dead host).
        const notSaved = report.notSaved?.length ?? 0;
        if (report.failed > 0 || notSaved > 0)
          throw new WorkFailedError(batchShortfall(report.saved, report.failed, notSaved), {
            report,
            text: reportText(report),
          });
        emit(opts.json, report, () => reportText(report));
      });
    });
}

/** What a started batch says in JSON, whether waited for or not. */
function startedJson(batch: StartedBatch): Record<string, unknown> {
  return {
    batchId: batch.batchId,
    jobId: batch.jobId,
    saves: batch.total,
    skipped: batch.skipped.map((s) => ({ host: s.host, domain: s.domain.name, uuid: s.domain.uuid, reason: s.reason })),
    ...(batch.duplicates.length > 0 ? { duplicates: batch.duplicates } : {}),
  };
}

/** Adds a job to a queue; returns its id. */
export async function addJob(
  redis: RedisClient,
  prefix: string,
  queueName: string,
  name: string,
  data: unknown,
  opts: object,
): Promise<string> {
  const queue = new Queue(queueName, { connection: redis, prefix: bullPrefix(prefix) });
  try {
    return (await queue.add(name, data, opts)).id ?? "";
  } finally {
    await queue.close();
  }
}

export interface FinishedJob {
  state: "completed" | "failed";
  returnvalue: unknown;
  failedReason: string;
  timestamp: number;
  finishedOn?: number;
}

/**
 * Waits for a job to complete or fail for good, showing its state (and the
 * bytes a restore has written, from its progress) on stderr.
 */
export async function followJob(
  redis: RedisClient,
  prefix: string,
  queueName: string,
  id: string,
  label: string,
): Promise<FinishedJob> {
  const queue = new Queue(queueName, { connection: redis, prefix: bullPrefix(prefix) });
  const progress = tracker();
  try {
    const job = await poll(`${label} to finish`, async () => {
      const { state, job } = await jobWithState(queue, id);
      if (state === "unknown" || job === undefined) throw new JobNotFoundError(queueName, id);
      const p = parseProgress("restore", job.progress);
      progress.update(id, bytesStep(label, state, p?.bytes, p?.totalBytes));
      return state === "completed" || state === "failed" ? { state, job } : undefined;
    });
    return {
      state: job.state,
      returnvalue: job.job.returnvalue,
      failedReason: job.job.failedReason,
      timestamp: job.job.timestamp,
      ...(job.job.finishedOn !== undefined ? { finishedOn: job.job.finishedOn } : {}),
    };
  } finally {
    progress.stop();
    await queue.close();
  }
}

/** A state, with the bytes moved of how many when they are known (all of them once completed). */
export function bytesStep(label: string, state: string, bytes?: number, total?: number): Step {
  return {
    label,
    state,
    ...(bytes !== undefined
      ? { done: state === "completed" && total !== undefined ? total : bytes, unit: "bytes" }
      : {}),
    ...(bytes !== undefined && total !== undefined ? { total } : {}),
  };
}

function batchShortfall(saved: number, failed: number, notSaved: number): string {
  const parts = [
    ...(failed > 0 ? [`${failed} of ${saved + failed} saves failed`] : []),
    ...(notSaved > 0 ? [`${notSaved} domains not saved (host down)`] : []),
  ];
  return parts.join("; ");
}

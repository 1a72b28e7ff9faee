/** Commands that start work: save one domain, batch-save hosts, restore an image. */
import { Queue } from "bullmq";
import type { Command } from "commander";
import { startBatch, waitForBatch, withSkipped, type BatchProgress } from "@xenfleet/fleet";
import { bullPrefix, getHost, hostQueue, JOB_SPECS, jobData, parseResult, waitForJob } from "@xenfleet/jobs";
import type { Redis } from "ioredis";
import { addFleetOptions, fail, fleetOptions, list, withRedis } from "./fleet-options.js";
import { fromBatch, printReport } from "./fleet-report.js";
import { batchBar } from "./progress.js";

type Mode = "checkpoint" | "live" | "suspend";

function mode(text: string): Mode {
  if (text !== "checkpoint" && text !== "live" && text !== "suspend")
    throw new Error(`--mode must be checkpoint, live or suspend, not ${text}`);
  return text;
}

export function registerWorkCommands(program: Command): void {
  addFleetOptions(program.command("save"))
    .description("Save one domain of a host into the store (incremental against its previous image)")
    .argument("<host>", "host id")
    .argument("<domain>", "domain name or uuid")
    .option(
      "--mode <mode>",
      "checkpoint (paused while saved), live (pre-copy, paused for the final pass) or suspend (stopped)",
      mode,
      "checkpoint",
    )
    .option("--label <labels>", "retention labels, comma separated", list, [])
    .option("--no-compress", "leave the image's packs raw")
    .option("--wait", "wait for the save to finish and print the report")
    .option("--json", "print JSON")
    .action(async (host: string, domain: string, opts) => {
      try {
        const options = fleetOptions(opts);
        await withRedis(options, async (redis) => {
          const target = await upHost(redis, options.prefix, host);
          const d = target.info?.domains.find((x) => x.uuid === domain.toLowerCase() || x.name === domain);
          if (d === undefined) throw new Error(`host ${host} reports no domain ${JSON.stringify(domain)}`);
          const data = jobData("save", {
            host,
            domain: { uuid: d.uuid, name: d.name },
            store: options.store,
            mode: opts.mode,
            labels: opts.label,
            compress: opts.compress,
          });
          const job = await runJob(
            redis,
            options.prefix,
            hostQueue("save", host),
            { name: "save", data, opts: JOB_SPECS.save.options },
            opts.wait === true,
          );
          const done = job.finished;
          if (done === undefined) return printStarted({ job: job.id, queue: job.queue }, opts.json);
          const seconds = ((done.finishedOn ?? Date.now()) - done.timestamp) / 1000;
          if (done.state === "completed") {
            const r = parseResult("save", done.returnvalue);
            printReport(
              {
                saved: 1,
                failed: 0,
                bytesTotal: r.bytesTotal,
                bytesNew: r.bytesNew,
                seconds,
                failures: [],
                imageId: r.imageId,
                pausedMs: r.pausedMs,
              },
              opts.json,
            );
          } else {
            printReport(
              {
                saved: 0,
                failed: 1,
                bytesTotal: 0,
                bytesNew: 0,
                seconds,
                failures: [{ host, domain: d.uuid, reason: done.failedReason }],
              },
              opts.json,
            );
            process.exitCode = 1;
          }
        });
      } catch (err) {
        fail(err, opts.json);
      }
    });

  addFleetOptions(program.command("batch-save"))
    .description("Save every domain of the chosen hosts (all hosts by default) as one batch with a final report")
    .option("--hosts <ids>", "only these hosts, comma separated", list)
    .option(
      "--mode <mode>",
      "checkpoint (paused while saved), live (pre-copy, paused for the final pass) or suspend (stopped)",
      mode,
      "checkpoint",
    )
    .option("--label <labels>", "retention labels, comma separated", list, ["nightly"])
    .option("--no-compress", "leave the images' packs raw")
    .option("--wait", "wait for the batch to finish and print the report")
    .option("--json", "print JSON")
    .action(async (opts) => {
      try {
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
          if (!opts.json)
            for (const d of batch.duplicates)
              process.stderr.write(
                `warning: domain ${d.uuid} is reported by hosts ${d.hosts.join(", ")}; saved on each\n`,
              );
          const duplicates = batch.duplicates.length > 0 ? { duplicates: batch.duplicates } : {};
          if (!opts.wait)
            return printStarted(
              { batchId: batch.batchId, job: batch.jobId, saves: batch.total, skipped: batch.skipped, ...duplicates },
              opts.json,
            );
          const bar = !opts.json && process.stderr.isTTY ? batchBar(batch.batchId) : undefined;
          let done: BatchProgress;
          try {
            done = await waitForBatch(redis, options.prefix, batch.jobId, { onProgress: (p) => bar?.update(p) });
          } finally {
            bar?.stop();
          }
          if (done.report === undefined)
            throw new Error(`batch ${batch.batchId} failed: ${done.error ?? "unknown reason"}`);
          const report = withSkipped(done.report, batch.skipped);
          printReport({ ...fromBatch(report), ...duplicates }, opts.json);
          if (report.failed > 0) process.exitCode = 1;
        });
      } catch (err) {
        fail(err, opts.json);
      }
    });

  addFleetOptions(program.command("restore"))
    .description("Restore an image onto a host (verified on the way)")
    .argument("<image>", "image id")
    .requiredOption("--host <id>", "the host to restore onto")
    .option("--name <name>", "name of the restored domain (default: the image's)")
    .option("--paused", "leave the restored domain paused")
    .option("--wait", "wait for the restore to finish and print the result")
    .option("--json", "print JSON")
    .action(async (image: string, opts) => {
      try {
        const options = fleetOptions(opts);
        await withRedis(options, async (redis) => {
          await upHost(redis, options.prefix, opts.host);
          const data = jobData("restore", {
            host: opts.host,
            store: options.store,
            image: image.toLowerCase(),
            paused: opts.paused === true,
            ...(opts.name !== undefined ? { name: opts.name } : {}),
          });
          const job = await runJob(
            redis,
            options.prefix,
            hostQueue("restore", opts.host),
            { name: "restore", data, opts: JOB_SPECS.restore.options },
            opts.wait === true,
          );
          const done = job.finished;
          if (done === undefined) return printStarted({ job: job.id, queue: job.queue }, opts.json);
          if (done.state !== "completed") throw new Error(`restore failed: ${done.failedReason}`);
          const r = parseResult("restore", done.returnvalue);
          if (opts.json) process.stdout.write(JSON.stringify({ ok: true, host: opts.host, ...r }) + "\n");
          else
            process.stdout.write(
              `restored ${r.domain.name} (${r.domain.uuid}) on ${opts.host}: ${r.bytesRestored} bytes in ${r.seconds.toFixed(1)} s\n`,
            );
        });
      } catch (err) {
        fail(err, opts.json);
      }
    });
}

/** New work goes only to hosts that are up. */
async function upHost(redis: Redis, prefix: string, host: string) {
  const status = await getHost(redis, prefix, host);
  if (status === undefined) throw new Error(`no host ${host} registered`);
  if (status.state === "down") throw new Error(`host ${host} is down (its heartbeat lapsed); it gets no new work`);
  return status;
}

/** Add a job and, with `wait`, wait for its end, all on one queue handle. */
async function runJob(
  redis: Redis,
  prefix: string,
  queueName: string,
  job: { name: string; data: unknown; opts: object },
  wait: boolean,
): Promise<{ id: string; queue: string; finished?: Finished }> {
  const queue = new Queue(queueName, { connection: redis, prefix: bullPrefix(prefix) });
  try {
    const added = await queue.add(job.name, job.data, job.opts);
    const id = added.id ?? "";
    if (!wait) return { id, queue: queueName };
    const { state, job: done } = await waitForJob(queue, id);
    return {
      id,
      queue: queueName,
      finished: {
        state,
        returnvalue: done.returnvalue,
        failedReason: done.failedReason,
        timestamp: done.timestamp,
        ...(done.finishedOn !== undefined ? { finishedOn: done.finishedOn } : {}),
      },
    };
  } finally {
    await queue.close();
  }
}

interface Finished {
  state: string;
  returnvalue: unknown;
  failedReason: string;
  timestamp: number;
  finishedOn?: number;
}

function printStarted(what: Record<string, unknown>, json: boolean | undefined): void {
  if (json) process.stdout.write(JSON.stringify({ ok: true, ...what }) + "\n");
  else
    process.stdout.write(
      Object.entries(what)
        .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join("\n") + "\n",
    );
}

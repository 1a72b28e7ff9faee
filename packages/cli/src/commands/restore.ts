/**
 * Commands that make domains from an image: `restore` (the domain back, or a
 * copy of it with `--new-uuid`) and `clone` (copies of a template, each its
 * own domain). uuids stay unique in the fleet: a restore that would run a
 * uuid some host already runs is refused, naming that host.
 */
import { randomUUID } from "node:crypto";
import { formatDuration, formatSize } from "@xenfleet/core";
import { loadManifest, type Manifest } from "@xenfleet/image";
import { hostQueue, JOB_SPECS, jobData, parseResult, type RedisClient } from "@xenfleet/jobs";
import type { Command } from "commander";
import { domainName, hostId, positive } from "../args.js";
import { UsageError, WorkFailedError } from "../errors.js";
import { emit } from "../output.js";
import { addFleetOptions, fleetOptions, openFleetStore, withRedis, type FleetOptions } from "./fleet-options.js";
import { resolveImageId } from "./image-store.js";
import { refuseRunningUuid, upHost } from "./subjects.js";
import { addJob, followJob } from "./work.js";

/** Most copies one `clone` makes: each is a job and a domain on one host. */
const MAX_CLONES = 256;

export function registerRestoreCommands(program: Command): void {
  addFleetOptions(program.command("restore"))
    .description("Restore an image onto a host (verified on the way)")
    .argument("<image>", "image id (or a unique prefix of at least 8 hex digits)")
    .requiredOption("--host <id>", "the host to restore onto", hostId)
    .option("--name <name>", "name of the restored domain (default: the image's)", domainName)
    .option(
      "--new-uuid",
      "a copy: a new uuid and (without --name) a new name, written into the domain's config; without it a uuid that runs on any host is refused",
    )
    .option("--paused", "leave the restored domain paused")
    .option("--wait", "wait for the restore to finish, showing its progress, and print the result")
    .option("--json", "print the result as one JSON document")
    .action(async (imageArg: string, opts) => {
      const options = fleetOptions(opts);
      const { imageId, manifest } = await readImage(options.store, imageArg);
      await withRedis(options, async (redis) => {
        await upHost(redis, options.prefix, opts.host);
        let copy: { uuid: string; name: string } | undefined;
        if (opts.newUuid) {
          const uuid = randomUUID();
          copy = { uuid, name: opts.name ?? `${originalName(manifest)}-${uuid.slice(0, 8)}` };
        } else if (manifest.domain.uuid !== undefined) {
          await refuseRunningUuid(redis, options.prefix, manifest.domain.uuid);
        }
        const name: string | undefined = copy?.name ?? opts.name;
        const job = await queueRestore(redis, options, {
          host: opts.host,
          imageId,
          paused: opts.paused === true,
          ...(name !== undefined ? { name } : {}),
          ...(copy !== undefined ? { uuid: copy.uuid } : {}),
        });
        const subject = { imageId, host: opts.host as string };
        if (!opts.wait)
          return emit(
            opts.json,
            { jobId: job, queue: hostQueue("restore", opts.host), ...subject, state: "queued", ...copy },
            () => `queued restore of ${imageId.slice(0, 12)} on ${opts.host}: job ${job}`,
          );
        const r = await waitForRestore(redis, options.prefix, opts.host, job, imageId);
        emit(opts.json, { ...subject, ...restoredJson(r) }, () => restoredText(r, opts.host));
      });
    });

  addFleetOptions(program.command("clone"))
    .description("Restore copies of a template image onto a host, each its own domain with its own uuid")
    .argument("<image>", "the template: an image id (or a unique prefix of at least 8 hex digits)")
    .requiredOption("--host <id>", "the host to restore the copies onto", hostId)
    .requiredOption("--name <name>", "name of the copy; with --count K, NAME-1 ... NAME-K", domainName)
    .option("--count <k>", `how many copies (at most ${MAX_CLONES})`, positive, 1)
    .option("--paused", "leave the copies paused")
    .option("--wait", "wait for every copy to run and print them")
    .option("--json", "print the result as one JSON document")
    .action(async (imageArg: string, opts) => {
      const options = fleetOptions(opts);
      const count = opts.count as number;
      if (count > MAX_CLONES) throw new UsageError(`--count ${count} is more than ${MAX_CLONES} copies`);
      const names =
        count === 1 ? [opts.name as string] : Array.from({ length: count }, (_, i) => `${opts.name}-${i + 1}`);
      // NAME-K must be a name too (the longest).
      domainName(names[names.length - 1]!);
      const { imageId } = await readImage(options.store, imageArg);
      await withRedis(options, async (redis) => {
        await upHost(redis, options.prefix, opts.host);
        const clones: Array<{ name: string; uuid: string; jobId: string }> = [];
        for (const name of names) {
          const uuid = randomUUID();
          const jobId = await queueRestore(redis, options, {
            host: opts.host,
            imageId,
            paused: opts.paused === true,
            name,
            uuid,
          });
          clones.push({ name, uuid, jobId });
        }
        const subject = { imageId, host: opts.host as string };
        if (!opts.wait)
          return emit(
            opts.json,
            {
              ...subject,
              state: "queued",
              clones: clones.map((c) => ({ domain: c.name, uuid: c.uuid, jobId: c.jobId })),
            },
            () => clones.map((c) => `queued clone ${c.name} (${c.uuid}) on ${opts.host}: job ${c.jobId}`).join("\n"),
          );
        const done: RestoredDomain[] = [];
        for (const c of clones) done.push(await waitForRestore(redis, options.prefix, opts.host, c.jobId, imageId));
        emit(opts.json, { ...subject, clones: done.map(restoredJson) }, () =>
          done.map((r) => restoredText(r, opts.host)).join("\n"),
        );
      });
    });
}

/** The image named on the command line, resolved (a prefix completed) in the named store the job will use, with its manifest. */
export async function readImage(storeName: string, imageArg: string): Promise<{ imageId: string; manifest: Manifest }> {
  const store = await openFleetStore(storeName, { create: false });
  try {
    const imageId = await resolveImageId(store, imageArg);
    return { imageId, manifest: await loadManifest(store, imageId) };
  } finally {
    await store.close();
  }
}

/** The domain's name on its host (a fleet save files its image under the uuid). */
function originalName(manifest: Manifest): string {
  return manifest.domainName ?? manifest.domain.name;
}

async function queueRestore(
  redis: RedisClient,
  options: FleetOptions,
  job: { host: string; imageId: string; paused: boolean; name?: string; uuid?: string },
): Promise<string> {
  const data = jobData("restore", {
    host: job.host,
    store: options.store,
    image: job.imageId,
    paused: job.paused,
    ...(job.name !== undefined ? { name: job.name } : {}),
    ...(job.uuid !== undefined ? { uuid: job.uuid } : {}),
  });
  return addJob(redis, options.prefix, hostQueue("restore", job.host), "restore", data, JOB_SPECS.restore.options);
}

interface RestoredDomain {
  name: string;
  uuid: string;
  bytesRestored: number;
  seconds: number;
}

async function waitForRestore(
  redis: RedisClient,
  prefix: string,
  host: string,
  jobId: string,
  imageId: string,
): Promise<RestoredDomain> {
  const label = `restore of ${imageId.slice(0, 12)} on ${host}`;
  const done = await followJob(redis, prefix, hostQueue("restore", host), jobId, label);
  if (done.state !== "completed")
    throw new WorkFailedError(`${label} failed: ${done.failedReason}`, {
      report: { imageId, host, jobId },
      text: "",
    });
  const r = parseResult("restore", done.returnvalue);
  return { name: r.domain.name, uuid: r.domain.uuid, bytesRestored: r.bytesRestored, seconds: r.seconds };
}

function restoredJson(r: RestoredDomain): Record<string, unknown> {
  return { domain: r.name, uuid: r.uuid, bytesRestored: r.bytesRestored, seconds: r.seconds };
}

function restoredText(r: RestoredDomain, host: string): string {
  return `restored ${r.name} (${r.uuid}) on ${host}: ${formatSize(r.bytesRestored)} in ${formatDuration(r.seconds * 1000)}`;
}

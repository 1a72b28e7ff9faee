/**
 * `xenfleet migrate` and `xenfleet evacuate`: they queue the jobs (a
 * migrate-send/migrate-recv pair, or an evacuate job for the controller) and,
 * with --wait, follow them to the end, showing progress on stderr. The work
 * itself runs in the migrate workers and the controller.
 */
import { formatDuration, formatSize, sleep } from "@xenfleet/core";
import { randomBytes } from "node:crypto";
import { FlowProducer, Queue } from "bullmq";
import { InvalidArgumentError, Option, type Command } from "commander";
import {
  assertHostId,
  bullPrefix,
  CONTROLLER_QUEUE,
  hostQueue,
  JOB_SPECS,
  jobData,
  jobWithState,
  listHosts,
  parseProgress,
  parseResult,
  type JobResult,
  type RedisClient,
} from "@xenfleet/jobs";
import { evacuationJson } from "@xenfleet/fleet";
import { MigrationRecord, parseRate } from "@xenfleet/migration";
import { COMPRESSIONS, type Compression } from "@xenfleet/store";
import { durationOption, hostId, labels, list, positive } from "../args.js";
import { HostDownError, UsageError, WorkFailedError } from "../errors.js";
import { emit, seconds } from "../output.js";
import { addFleetOptions, fleetOptions, withRedis, type FleetOptions } from "./fleet-options.js";
import { tracker } from "./progress.js";
import { findDomain, registeredHosts, unknownHost } from "./subjects.js";
import { bytesStep } from "./work.js";

function rate(v: string): number {
  try {
    return parseRate(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function compressionOption(fallback?: Compression): Option {
  const option = new Option("--compress <algorithm>", "per-frame compression on the wire").choices(COMPRESSIONS);
  return fallback === undefined ? option : option.default(fallback);
}

const ONE_HOUR = 3_600_000;

export function registerMigrateCommands(program: Command): void {
  addFleetOptions(
    program
      .command("migrate")
      .description("Move a domain to another host: live over TCP, or cold through the store (--store)")
      .argument("<domain>", "domain name or uuid")
      .requiredOption("--to <host>", "target host", hostId)
      .option("--cold", "save on the source, restore on the target through the store")
      .addOption(compressionOption("lz4"))
      .option("--bandwidth <rate>", "wire bandwidth limit, e.g. 100M (bytes per second)", rate)
      .addOption(
        durationOption(
          "--max-downtime <duration>",
          "stop pre-copy once the rest can be sent within this, e.g. 300ms (refused on xen hosts: libxl has no downtime target)",
        ),
      )
      .addOption(
        durationOption(
          "--timeout <duration>",
          "bound on pre-copy, e.g. 10m (refused on xen hosts, as is --timeout-action)",
        ),
      )
      .addOption(
        new Option("--timeout-action <action>", "when pre-copy times out: force (final pass now) or abort")
          .choices(["force", "abort"])
          .default("force"),
      )
      .option("--wait", "wait for the migration to finish, showing its progress")
      .option("--json", "print the result as one JSON document"),
  ).action(async (domainArg: string, opts: MigrateOpts) => {
    if (opts.maxDowntime !== undefined && (opts.maxDowntime < 1 || opts.maxDowntime > ONE_HOUR))
      throw new UsageError("--max-downtime is between 1ms and 1h");
    if (opts.timeout !== undefined && (opts.timeout < 1 || opts.timeout > 24 * ONE_HOUR))
      throw new UsageError("--timeout is between 1ms and 24h");
    if (opts.store !== undefined && !opts.cold) throw new UsageError("--store goes with --cold");
    const fleet = fleetOptions(opts);
    await withRedis(fleet, (redis) => migrate(redis, fleet, domainArg, opts));
  });

  addFleetOptions(
    program
      .command("evacuate")
      .description(
        "Empty hosts: place every domain elsewhere and migrate it; the hosts are marked draining (--store for --cold and --cold-fallback)",
      )
      .argument("<hosts...>", "hosts to empty")
      .option("--max-parallel <n>", "migrations at once, cluster-wide", positive, 8)
      .option("--per-source <k>", "migrations at once leaving one host (default: 2)", positive)
      .option("--per-target <k>", "migrations at once arriving on one host (default: 2)", positive)
      .option("--per-host <k>", "sets both --per-source and --per-target (either, given, overrides it)", positive)
      .option(
        "--attempts <n>",
        "live tries per domain, each on another target (1-10); as many cold ones with --cold-fallback",
        positive,
        3,
      )
      .option("--cold", "move domains through the store (--store) instead of live")
      .option(
        "--cold-fallback",
        "a domain no live target is left for goes through the store (--store): saved, then restored on a target",
      )
      .option(
        "--tag <domain=tags>",
        "the domain goes only to hosts with all these tags (XENFLEET_HOST_TAGS), e.g. db1=ssd,rack-3; repeatable",
        collect,
      )
      .option(
        "--anti-affinity <domains>",
        "these domains (names or uuids, comma separated) never share a host; repeatable, one group each",
        collect,
      )
      .option("--bandwidth <rate>", "wire bandwidth limit per migration, e.g. 200M (bytes per second)", rate)
      .addOption(compressionOption())
      .option("--wait", "follow the evacuation to its report, showing each domain's progress")
      .option("--json", "print the result as one JSON document"),
  ).action(async (hosts: string[], opts: EvacuateOpts) => {
    const ids = hosts.map((h) => {
      try {
        return assertHostId(h);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    });
    if (opts.store !== undefined && !opts.cold && !opts.coldFallback)
      throw new UsageError("--store goes with --cold or --cold-fallback");
    if (opts.attempts > 10) throw new UsageError("--attempts is at most 10");
    for (const [flag, v, max] of [
      ["--per-source", opts.perSource, 64],
      ["--per-target", opts.perTarget, 64],
      ["--per-host", opts.perHost, 64],
      ["--max-parallel", opts.maxParallel, 4096],
    ] as const)
      if (v !== undefined && v > max) throw new UsageError(`${flag} is at most ${max}`);
    const requireTags = (opts.tag ?? []).map(parseTagRule);
    const antiAffinity = (opts.antiAffinity ?? []).map((g) => {
      const members = list(g);
      if (members.length < 2) throw new UsageError(`--anti-affinity ${g}: name at least two domains`);
      return members;
    });
    const fleet = fleetOptions(opts);
    await withRedis(fleet, async (redis) => {
      const evacuated = await registeredHosts(redis, fleet.prefix, ids);
      // A rule naming a domain that is not there would be accepted and do nothing: refuse it.
      for (const r of requireTags) findDomain(evacuated, r.domain, "--tag: no host being evacuated has a domain");
      const all = await listHosts(redis, fleet.prefix);
      for (const g of antiAffinity) for (const d of g) findDomain(all, d, "--anti-affinity: no host reports a domain");
      await evacuate(redis, fleet, ids, { ...opts, requireTags, antiAffinityGroups: antiAffinity });
    });
  });
}

interface MigrateOpts {
  redis: string;
  prefix: string;
  store?: string;
  to: string;
  cold?: boolean;
  compress: Compression;
  bandwidth?: number;
  maxDowntime?: number;
  timeout?: number;
  timeoutAction: "force" | "abort";
  wait?: boolean;
  json?: boolean;
}

async function migrate(redis: RedisClient, fleet: FleetOptions, domainArg: string, o: MigrateOpts): Promise<void> {
  const hosts = await listHosts(redis, fleet.prefix);
  const target = hosts.find((h) => h.id === o.to);
  if (target === undefined) throw unknownHost(o.to);
  const { host: source, domain: dom } = findDomain(hosts, domainArg);
  if (target.state === "down") throw new HostDownError(o.to);
  if (target.state === "draining") throw new UsageError(`target ${o.to} is draining; it takes no new domains`);
  if (target.id === source.id) throw new UsageError(`${dom.name} already runs on ${o.to}`);
  const id = `mig-${randomBytes(8).toString("hex")}`;
  const mode = o.cold ? "cold" : "live";
  const domain = { uuid: dom.uuid, name: dom.name };
  const store = o.cold ? { store: fleet.store } : {};
  const flows = new FlowProducer({ connection: redis, prefix: bullPrefix(fleet.prefix) });
  const opts = JOB_SPECS["migrate-send"].options;
  try {
    await flows.addBulk([
      {
        name: "migrate-recv",
        queueName: hostQueue("migrate-recv", o.to),
        data: jobData("migrate-recv", {
          migrationId: id,
          host: o.to,
          source: source.id,
          domain,
          memoryBytes: dom.memory,
          mode,
          ...store,
        }),
        opts: { ...opts, jobId: `${id}-recv` },
      },
      {
        name: "migrate-send",
        queueName: hostQueue("migrate-send", source.id),
        data: jobData("migrate-send", {
          migrationId: id,
          host: source.id,
          target: o.to,
          domain,
          mode,
          compress: o.compress !== "none",
          compression: o.compress,
          ...(o.bandwidth ? { bandwidth: o.bandwidth } : {}),
          ...(o.maxDowntime ? { maxDowntimeMs: o.maxDowntime } : {}),
          ...(o.timeout ? { timeoutMs: o.timeout, timeoutAction: o.timeoutAction } : {}),
          ...store,
        }),
        opts: { ...opts, jobId: `${id}-send` },
      },
    ]);
  } finally {
    await flows.close();
  }
  const subject = { migrationId: id, domain: dom.name, uuid: dom.uuid, from: source.id, to: o.to, mode };
  if (!o.wait)
    return emit(
      o.json,
      { ...subject, state: "queued" },
      () => `queued ${mode} migration ${id}: ${dom.name} ${source.id} -> ${o.to}`,
    );

  const queue = (name: string) => new Queue(name, { connection: redis, prefix: bullPrefix(fleet.prefix) });
  const sendQ = queue(hostQueue("migrate-send", source.id));
  const recvQ = queue(hostQueue("migrate-recv", o.to));
  const progress = tracker();
  const label = `${dom.name} ${source.id} -> ${o.to}`;
  try {
    for (;;) {
      const [{ state: ss, job: send }, { state: rs, job: recv }] = await Promise.all([
        jobWithState(sendQ, `${id}-send`),
        jobWithState(recvQ, `${id}-recv`),
      ]);
      const p = parseProgress("migrate-send", send?.progress);
      progress.update(id, bytesStep(label, ss === "active" ? (p?.phase ?? "active") : ss, p?.bytes, p?.memoryBytes));
      const over = (s: string) => s === "completed" || s === "failed" || s === "unknown";
      // One side failed and the migration is recorded aborted: the other side's job may sit on a
      // stopped or dead worker for ever, and ends on its own (as aborted) when that worker runs.
      const abandoned =
        (ss === "failed" || rs === "failed") &&
        (await new MigrationRecord(redis, fleet.prefix, id).outcome()) === "aborted";
      if ((over(ss) && over(rs)) || abandoned) {
        progress.stop();
        if (ss === "completed" && rs === "completed") {
          const r = parseResult("migrate-send", send!.returnvalue);
          // Cold: bytesSent counts what the image added to the store (the rest was there already).
          const carried =
            mode === "cold"
              ? `image of ${formatSize(r.bytesRaw ?? 0)}, ${formatSize(r.bytesSent)} of it new to the store`
              : `${r.iterations} iteration(s), ${formatSize(r.bytesSent)} sent${r.compressionRatio ? `, compression ${r.compressionRatio}x` : ""}`;
          return emit(
            o.json,
            { ...subject, state: "done", ...migrationJson(r) },
            () =>
              `${dom.name} now runs on ${o.to} (${mode}): downtime ${r.downtimeMs === undefined ? "not measured (the hypervisor does not say when it paused)" : formatDuration(r.downtimeMs)}, ${carried}`,
          );
        }
        const reason = send?.failedReason || recv?.failedReason || `send ${ss}, receive ${rs}`;
        throw new WorkFailedError(`migration failed; ${dom.name} stays on ${source.id}: ${reason}`, {
          report: { ...subject, state: "failed", reason },
          text: "",
        });
      }
      await sleep(250);
    }
  } finally {
    progress.stop();
    await Promise.all([sendQ.close(), recvQ.close()]);
  }
}

/** A migration's result in a JSON document: durations in seconds. */
function migrationJson(r: JobResult<"migrate-send">) {
  const { v: _v, downtimeMs, ...rest } = r;
  return { ...rest, ...(downtimeMs !== undefined ? { downtimeSeconds: seconds(downtimeMs) } : {}) };
}

interface EvacuateOpts {
  redis: string;
  prefix: string;
  store?: string;
  maxParallel: number;
  perSource?: number;
  perTarget?: number;
  perHost?: number;
  attempts: number;
  cold?: boolean;
  coldFallback?: boolean;
  tag?: string[];
  antiAffinity?: string[];
  bandwidth?: number;
  compress?: Compression;
  wait?: boolean;
  json?: boolean;
}

/** Repeated options add up. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** "db1=ssd,rack-3": the domain and the tags its target must have. */
function parseTagRule(text: string): { domain: string; tags: string[] } {
  const at = text.indexOf("=");
  const domain = text.slice(0, at).trim();
  if (at < 1 || domain === "") throw new UsageError(`--tag ${text}: write DOMAIN=TAG[,TAG...]`);
  try {
    const tags = labels(text.slice(at + 1));
    if (tags.length === 0) throw new Error("no tag given");
    return { domain, tags };
  } catch (err) {
    throw new UsageError(`--tag ${text}: ${(err as Error).message}`);
  }
}

const DEFAULT_PER_HOST = 2;

async function evacuate(
  redis: RedisClient,
  fleet: FleetOptions,
  hosts: string[],
  o: EvacuateOpts & { requireTags: Array<{ domain: string; tags: string[] }>; antiAffinityGroups: string[][] },
): Promise<void> {
  const id = `evac-${randomBytes(8).toString("hex")}`;
  const queue = new Queue(CONTROLLER_QUEUE, { connection: redis, prefix: bullPrefix(fleet.prefix) });
  const progress = tracker();
  try {
    await queue.add(
      "evacuate",
      jobData("evacuate", {
        evacuationId: id,
        hosts,
        limits: {
          perSource: o.perSource ?? o.perHost ?? DEFAULT_PER_HOST,
          perTarget: o.perTarget ?? o.perHost ?? DEFAULT_PER_HOST,
          total: o.maxParallel,
        },
        maxAttempts: o.attempts,
        ...(o.cold ? { cold: true } : {}),
        ...(o.cold || o.coldFallback ? { coldVia: fleet.store } : {}),
        ...(o.requireTags.length ? { requireTags: o.requireTags } : {}),
        ...(o.antiAffinityGroups.length ? { antiAffinity: o.antiAffinityGroups } : {}),
        ...(o.bandwidth ? { bandwidth: o.bandwidth } : {}),
        ...(o.compress ? { compression: o.compress } : {}),
      }),
      { ...JOB_SPECS.evacuate.options, jobId: id },
    );
    if (!o.wait)
      return emit(
        o.json,
        { evacuationId: id, hosts, state: "queued" },
        () => `queued evacuation ${id} of ${hosts.join(", ")}`,
      );
    for (;;) {
      const { state, job } = await jobWithState(queue, id);
      const p = parseProgress("evacuate", job?.progress);
      progress.update(id, {
        label: `evacuation of ${hosts.join(", ")}`,
        state: p?.failed ? `${state}, ${p.failed} failed` : state,
        ...(p?.domains ? { done: p.done, total: p.total, unit: "domains" } : {}),
      });
      for (const d of p?.domains ?? [])
        progress.update(
          d.uuid,
          bytesStep(
            `  ${d.name} ${d.source} -> ${d.target ?? "?"}${d.mode === "cold" ? " (cold)" : ""}`,
            d.state === "failed" && d.reason ? `failed (${d.reason})` : d.state,
            d.bytes,
            d.memoryBytes,
          ),
        );
      if (state === "completed") {
        progress.stop();
        const r = parseResult("evacuate", job!.returnvalue);
        const report = evacuationJson(r);
        const text = [
          ...(r.placements ?? []).flatMap((x) => [
            `${x.domain.name}: ${x.from} -> ${x.to} (${x.mode})`,
            ...triesText(x.tries),
          ]),
          ...r.failed.flatMap((f) => [`${f.domain.name}: stays on ${f.host}: ${f.error}`, ...triesText(f.tries)]),
          `emptied: ${(r.emptied ?? []).join(", ") || "none"}`,
          ...(r.notEmpty ?? []).map((n) => `not empty: ${n.host} (${n.remaining} domain(s) left)`),
        ].join("\n");
        if (r.failed.length > 0)
          throw new WorkFailedError(`${r.failed.length} domain(s) could not be moved`, { report, text });
        return emit(o.json, report, () => text);
      }
      if (state === "failed" || state === "unknown")
        throw new WorkFailedError(`evacuation ${id} ${state}: ${job?.failedReason ?? ""}`, {
          report: { evacuationId: id, hosts, state },
          text: "",
        });
      await sleep(500);
    }
  } finally {
    progress.stop();
    await queue.close();
  }
}

/** Failed attempts, one indented line each, under the domain's line. */
function triesText(tries: JobResult<"evacuate">["failed"][number]["tries"]): string[] {
  return (tries ?? []).map((t) => `  tried ${t.target} (${t.mode}): ${t.reason}`);
}

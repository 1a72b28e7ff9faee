/**
 * `xenfleet migrate` and `xenfleet evacuate`: they queue the jobs (a
 * migrate-send/migrate-recv pair, or an evacuate job for the controller) and,
 * with --wait, follow them to the end. The work itself runs in the migrate
 * workers and the controller.
 */
import { sleep } from "@xenfleet/core";
import { randomBytes } from "node:crypto";
import { FlowProducer, Queue } from "bullmq";
import { InvalidArgumentError, type Command } from "commander";
import type { Redis } from "ioredis";
import {
  bullPrefix,
  CONTROLLER_QUEUE,
  hostQueue,
  JOB_SPECS,
  jobData,
  jobWithState,
  listHosts,
  parseProgress,
  type JobResult,
} from "@xenfleet/jobs";
import { parseRate } from "@xenfleet/migration";
import { isCompression, type Compression } from "@xenfleet/store";
import { addFleetOptions, fleetOptions, withRedis, type FleetOptions } from "./fleet-options.js";

function compressionArg(v: string): Compression {
  if (!isCompression(v)) throw new InvalidArgumentError("use lz4, zstd or none");
  return v;
}
function intArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}
function rateArg(v: string): number {
  try {
    return parseRate(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function registerMigrateCommands(program: Command): void {
  addFleetOptions(
    program
      .command("migrate")
      .description("Move a domain to another host: live over TCP, or cold through the store")
      .argument("<domain>", "domain name or uuid")
      .requiredOption("--to <host>", "target host")
      .option("--cold", "save on the source, restore on the target through the store")
      .option(
        "--compress <algorithm>",
        "per-frame compression on the wire: lz4, zstd or none",
        compressionArg,
        "lz4" as Compression,
      )
      .option("--bandwidth <rate>", "wire bandwidth limit, e.g. 100M (bytes per second)", rateArg)
      .option("--max-downtime <ms>", "stop pre-copy once the rest can be sent within this many ms", intArg)
      .option("--timeout <s>", "bound on pre-copy, in seconds", intArg)
      .option("--timeout-action <action>", "when pre-copy times out: force (final pass now) or abort", "force")
      .option("--wait", "wait for the migration to finish")
      .option("--json", "print the result as JSON"),
  ).action(async (domainArg: string, opts: MigrateOpts) => {
    const fleet = fleetOptions(opts);
    await withRedis(fleet, (redis) => migrate(redis, fleet, domainArg, opts));
  });

  addFleetOptions(
    program
      .command("evacuate")
      .description("Empty hosts: place every domain elsewhere and migrate it; the hosts are marked draining")
      .argument("<hosts...>", "hosts to empty")
      .option("--max-parallel <n>", "migrations at once, cluster-wide", intArg, 8)
      .option("--per-host <k>", "migrations at once per source and per target host", intArg, 2)
      .option("--cold", "move domains through the store instead of live")
      .option("--compress <algorithm>", "per-frame compression: lz4, zstd or none", compressionArg)
      .option("--wait", "follow the evacuation to its report")
      .option("--json", "print the report as JSON"),
  ).action(async (hosts: string[], opts: EvacuateOpts) => {
    const fleet = fleetOptions(opts);
    await withRedis(fleet, (redis) => evacuate(redis, fleet, hosts, opts));
  });
}

interface MigrateOpts {
  redis: string;
  prefix: string;
  store: string;
  to: string;
  cold?: boolean;
  compress: Compression;
  bandwidth?: number;
  maxDowntime?: number;
  timeout?: number;
  timeoutAction: string;
  wait?: boolean;
  json?: boolean;
}

async function migrate(redis: Redis, fleet: FleetOptions, domainArg: string, o: MigrateOpts): Promise<void> {
  const hosts = await listHosts(redis, fleet.prefix);
  const source = hosts.find((h) => h.info?.domains.some((d) => d.uuid === domainArg || d.name === domainArg));
  const dom = source?.info?.domains.find((d) => d.uuid === domainArg || d.name === domainArg);
  if (!source || !dom) throw new Error(`no registered host runs a domain ${JSON.stringify(domainArg)}`);
  const target = hosts.find((h) => h.id === o.to);
  if (target?.state !== "up")
    throw new Error(`target ${o.to} is ${target?.state ?? "not registered"}; it must be up and not draining`);
  if (target.id === source.id) throw new Error(`${dom.name} already runs on ${o.to}`);
  if (o.timeoutAction !== "force" && o.timeoutAction !== "abort")
    throw new Error("--timeout-action: use force or abort");
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
          ...(o.timeout ? { timeoutMs: o.timeout * 1000, timeoutAction: o.timeoutAction as "force" | "abort" } : {}),
          ...store,
        }),
        opts: { ...opts, jobId: `${id}-send` },
      },
    ]);
  } finally {
    await flows.close();
  }
  if (!o.wait) {
    print(
      o.json,
      { migrationId: id, domain: dom.name, from: source.id, to: o.to, mode, state: "queued" },
      `queued ${mode} migration ${id}: ${dom.name} ${source.id} -> ${o.to}`,
    );
    return;
  }
  const sendQ = new Queue(hostQueue("migrate-send", source.id), {
    connection: redis,
    prefix: bullPrefix(fleet.prefix),
  });
  const recvQ = new Queue(hostQueue("migrate-recv", o.to), { connection: redis, prefix: bullPrefix(fleet.prefix) });
  try {
    let last = -1;
    for (;;) {
      const [{ state: ss, job: send }, { state: rs, job: recv }] = await Promise.all([
        jobWithState(sendQ, `${id}-send`),
        jobWithState(recvQ, `${id}-recv`),
      ]);
      const pct = parseProgress("migrate-send", send?.progress)?.percent;
      if (!o.json && pct !== undefined && pct !== last) {
        process.stderr.write(`migrating ${dom.name}: ${pct}%\n`);
        last = pct;
      }
      const over = (s: string) => s === "completed" || s === "failed" || s === "unknown";
      if (over(ss) && over(rs)) {
        if (ss === "completed" && rs === "completed") {
          const r = send!.returnvalue as JobResult<"migrate-send">;
          // Cold: bytesSent counts what the image added to the store (the rest was there already).
          const carried =
            mode === "cold"
              ? `image of ${r.bytesRaw ?? 0} bytes, ${r.bytesSent} of them new to the store`
              : `${r.iterations} iteration(s), ${r.bytesSent} bytes sent${r.compressionRatio ? `, compression ${r.compressionRatio}x` : ""}`;
          print(
            o.json,
            { migrationId: id, domain: dom.name, from: source.id, to: o.to, state: "done", ...r },
            `${dom.name} now runs on ${o.to} (${mode}): downtime ${r.downtimeMs} ms, ${carried}`,
          );
          return;
        }
        const reason = send?.failedReason ?? recv?.failedReason ?? `send ${ss}, receive ${rs}`;
        print(
          o.json,
          { migrationId: id, domain: dom.name, from: source.id, to: o.to, state: "failed", reason },
          `migration failed; ${dom.name} stays on ${source.id}: ${reason}`,
        );
        process.exitCode = 1;
        return;
      }
      await sleep(250);
    }
  } finally {
    await Promise.all([sendQ.close(), recvQ.close()]);
  }
}

interface EvacuateOpts {
  redis: string;
  prefix: string;
  store: string;
  maxParallel: number;
  perHost: number;
  cold?: boolean;
  compress?: Compression;
  wait?: boolean;
  json?: boolean;
}

async function evacuate(redis: Redis, fleet: FleetOptions, hosts: string[], o: EvacuateOpts): Promise<void> {
  const id = `evac-${randomBytes(8).toString("hex")}`;
  const queue = new Queue(CONTROLLER_QUEUE, { connection: redis, prefix: bullPrefix(fleet.prefix) });
  try {
    await queue.add(
      "evacuate",
      jobData("evacuate", {
        evacuationId: id,
        hosts,
        limits: { perSource: o.perHost, perTarget: o.perHost, total: o.maxParallel },
        ...(o.cold ? { cold: true, coldVia: fleet.store } : {}),
        ...(o.compress ? { compression: o.compress } : {}),
      }),
      { ...JOB_SPECS.evacuate.options, jobId: id },
    );
    if (!o.wait) {
      print(o.json, { evacuationId: id, hosts, state: "queued" }, `queued evacuation ${id} of ${hosts.join(", ")}`);
      return;
    }
    let shown = "";
    for (;;) {
      const { state, job } = await jobWithState(queue, id);
      const p = parseProgress("evacuate", job?.progress);
      if (!o.json && p?.domains) {
        const text = p.domains
          .map(
            (d) =>
              `  ${d.name} ${d.source} -> ${d.target ?? "?"}: ${d.state}${d.state === "migrating" ? ` ${d.percent ?? 0}%` : ""}${d.reason && d.state === "failed" ? ` (${d.reason})` : ""}`,
          )
          .join("\n");
        if (text !== shown) {
          process.stderr.write(`evacuation ${id}: ${p.done}/${p.total} done, ${p.failed} failed\n${text}\n`);
          shown = text;
        }
      }
      if (state === "completed") {
        const r = job!.returnvalue as JobResult<"evacuate">;
        const lines = [
          ...(r.placements ?? []).map((x) => `${x.domain.name}: ${x.from} -> ${x.to} (${x.mode})`),
          ...r.failed.map((f) => `${f.domain.name}: stays on ${f.host}: ${f.error}`),
          `emptied: ${(r.emptied ?? []).join(", ") || "none"}`,
          ...(r.notEmpty ?? []).map((n) => `not empty: ${n.host} (${n.remaining} domain(s) left)`),
        ];
        print(o.json, r, lines.join("\n"));
        if (r.failed.length > 0) process.exitCode = 1;
        return;
      }
      if (state === "failed" || state === "unknown")
        throw new Error(`evacuation ${id} ${state}: ${job?.failedReason ?? ""}`);
      await new Promise((res) => setTimeout(res, 500));
    }
  } finally {
    await queue.close();
  }
}

function print(json: boolean | undefined, value: object, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

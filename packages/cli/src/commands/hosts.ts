/**
 * `xenfleet hosts [list]`, `hosts drain HOST`, `hosts undrain HOST`,
 * `hosts forget HOST`: the registry's hosts and their lifecycle. A host is
 * marked draining (nothing new is placed there) by `hosts drain`, by the
 * dashboard's button or by an evacuation, which then moves its domains
 * away, and the mark stays until an operator returns the host to service; a host that is gone for good stays
 * `down` until it is forgotten. Forgetting touches only the registry: the
 * images of the host's domains stay in the store.
 */
import type { Command } from "commander";
import { formatSize } from "@xenfleet/core";
import {
  clearDraining,
  forgetDownHost,
  getHost,
  type HostStatus,
  listHosts,
  markDraining,
  type RedisClient,
} from "@xenfleet/jobs";
import { hostId } from "../args.js";
import { UsageError } from "../errors.js";
import { emit, table } from "../output.js";
import { addRedisOptions, withRedis } from "./fleet-options.js";
import { unknownHost } from "./subjects.js";

export function registerHostsCommands(program: Command): void {
  const hosts = program
    .command("hosts")
    .description("The fleet's hosts: list them (the default), drain, undrain, forget");

  addRedisOptions(hosts.command("list", { isDefault: true }))
    .description("List the fleet's hosts: up, down (heartbeat lapsed) or draining, memory, domains")
    .option("--json", 'print {"ok": true, "hosts": [...]}')
    .action(async (opts) => {
      const all = await withRedis(opts, (redis) => listHosts(redis, opts.prefix));
      emit(opts.json, { hosts: all.map(hostJson) }, () =>
        table(
          [
            { header: "HOST" },
            { header: "STATE" },
            { header: "FREE", right: true },
            { header: "TOTAL", right: true },
            { header: "DOMAINS", right: true },
            { header: "TAGS" },
          ],
          all.map((h) => [
            h.id,
            h.state,
            h.info ? formatSize(h.info.memoryFree) : "-",
            h.info ? formatSize(h.info.memoryTotal) : "-",
            String(h.info?.domains.length ?? 0),
            `${h.info?.tags.join(",") ?? ""}${h.problem ? `  (${h.problem})` : ""}`,
          ]),
        ),
      );
    });

  addDrainCommand(hosts, "drain", {
    description: "Mark a host draining: nothing new is placed on it (its domains stay; `evacuate` moves them)",
    change: markDraining,
    say: (host, wasDraining, state) =>
      wasDraining ? `${host} was draining already (${state})` : `${host} is draining (${state})`,
  });
  addDrainCommand(hosts, "undrain", {
    description: "Return a draining host to service: new domains may be placed on it again",
    change: clearDraining,
    say: (host, wasDraining, state) =>
      wasDraining ? `${host} returned to service (${state})` : `${host} was not draining (${state})`,
  });

  addRedisOptions(hosts.command("forget"))
    .description("Remove a host that is down from the registry (its domains' images stay in the store)")
    .argument("<host>", "the host's id", hostId)
    .option("--json", "print the result as one JSON document")
    .action(async (host: string, opts) => {
      const forgotten = await withRedis(opts, async (redis) => {
        const status = await getHost(redis, opts.prefix, host);
        if (status === undefined) throw unknownHost(host);
        if (!(await forgetDownHost(redis, opts.prefix, host)))
          throw new UsageError(
            `host ${host} is ${status.state === "down" ? "back up" : status.state} (its heartbeat is live); stop its workers before forgetting it`,
          );
        return { host, domains: (status.info?.domains ?? []).map((d) => ({ domain: d.name, uuid: d.uuid })) };
      });
      emit(
        opts.json,
        forgotten,
        () => `forgot ${host} (${forgotten.domains.length} domains it last reported; their images stay in the store)`,
      );
    });
}

function hostJson(h: HostStatus) {
  return {
    host: h.id,
    state: h.state,
    draining: h.draining,
    address: h.info?.address ?? null,
    memoryTotal: h.info?.memoryTotal ?? null,
    memoryFree: h.info?.memoryFree ?? null,
    tags: h.info?.tags ?? [],
    domains: h.info?.domains.length ?? 0,
    ...(h.problem !== undefined ? { problem: h.problem } : {}),
  };
}

/** `hosts drain` and `hosts undrain`: one mark set or cleared, reported with what it was before. */
function addDrainCommand(
  hosts: Command,
  name: string,
  how: {
    description: string;
    change: (redis: RedisClient, prefix: string, host: string) => Promise<unknown>;
    say: (host: string, wasDraining: boolean, state: string) => string;
  },
): void {
  addRedisOptions(hosts.command(name))
    .description(how.description)
    .argument("<host>", "the host's id", hostId)
    .option("--json", "print the result as one JSON document")
    .action(async (host: string, opts) => {
      const after = await withRedis(opts, async (redis) => {
        const before = await getHost(redis, opts.prefix, host);
        if (before === undefined) throw unknownHost(host);
        await how.change(redis, opts.prefix, host);
        const now = (await getHost(redis, opts.prefix, host)) ?? before;
        return { host, state: now.state, wasDraining: before.draining };
      });
      emit(opts.json, after, () => how.say(host, after.wasDraining, after.state));
    });
}

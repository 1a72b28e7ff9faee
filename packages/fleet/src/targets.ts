/**
 * Which domains a batch saves: every domain the registry shows on the chosen
 * hosts. A host whose heartbeat has lapsed gets no new work: its domains are
 * listed as skipped, with the reason, instead of queueing saves nobody runs.
 * A uuid is meant to be unique in the fleet; one that several hosts report
 * (a cloned domain, or one caught between two hosts by a migration) is saved
 * on each of them and listed as a duplicate, so the report can say so.
 */
import { listHosts, type BatchSaveTarget, type RedisClient } from "@xenfleet/jobs";

export interface SkippedDomain {
  host: string;
  domain: { uuid: string; name: string };
  reason: string;
}

/** A domain uuid reported by more than one host. */
export interface DuplicateDomain {
  uuid: string;
  hosts: string[];
}

export interface BatchTargets {
  targets: BatchSaveTarget[];
  skipped: SkippedDomain[];
  duplicates: DuplicateDomain[];
}

export class UnknownHostError extends Error {
  readonly code = "XF_HOST_UNKNOWN";
  constructor(readonly hosts: string[]) {
    super(`no such host registered: ${hosts.join(", ")}`);
  }
}

/** Targets on `hosts` (every registered host when absent). */
export async function batchTargets(
  redis: RedisClient,
  prefix: string,
  hosts?: readonly string[],
): Promise<BatchTargets> {
  const all = await listHosts(redis, prefix);
  if (hosts !== undefined) {
    const missing = hosts.filter((h) => !all.some((s) => s.id === h));
    if (missing.length > 0) throw new UnknownHostError(missing);
  }
  const chosen = hosts === undefined ? all : all.filter((s) => hosts.includes(s.id));
  const result: BatchTargets = { targets: [], skipped: [], duplicates: [] };
  for (const host of chosen) {
    for (const d of host.info?.domains ?? []) {
      const domain = { uuid: d.uuid, name: d.name };
      if (host.state === "down") {
        result.skipped.push({ host: host.id, domain, reason: `host ${host.id} is down (heartbeat lapsed); not saved` });
      } else {
        result.targets.push({ host: host.id, domain });
      }
    }
  }
  result.duplicates = duplicatesOf(result.targets);
  return result;
}

function duplicatesOf(targets: readonly BatchSaveTarget[]): DuplicateDomain[] {
  const hostsOf = new Map<string, string[]>();
  for (const t of targets) {
    const uuid = t.domain.uuid.toLowerCase();
    hostsOf.set(uuid, [...(hostsOf.get(uuid) ?? []), t.host]);
  }
  return [...hostsOf].filter(([, hosts]) => hosts.length > 1).map(([uuid, hosts]) => ({ uuid, hosts }));
}

/**
 * Which domains a batch saves: every domain the registry shows on the chosen
 * hosts. A host whose heartbeat has lapsed gets no new work: its domains are
 * listed as skipped, with the reason, instead of queueing saves nobody runs.
 */
import { listHosts, type BatchSaveTarget } from "@xenfleet/jobs";
import type { Redis } from "ioredis";

export interface SkippedDomain {
  host: string;
  domain: { uuid: string; name: string };
  reason: string;
}

export interface BatchTargets {
  targets: BatchSaveTarget[];
  skipped: SkippedDomain[];
}

export class UnknownHostError extends Error {
  readonly code = "XF_UNKNOWN_HOST";
  constructor(readonly hosts: string[]) {
    super(`no such host registered: ${hosts.join(", ")}`);
  }
}

/** Targets on `hosts` (every registered host when absent). */
export async function batchTargets(redis: Redis, prefix: string, hosts?: readonly string[]): Promise<BatchTargets> {
  const all = await listHosts(redis, prefix);
  if (hosts !== undefined) {
    const missing = hosts.filter((h) => !all.some((s) => s.id === h));
    if (missing.length > 0) throw new UnknownHostError(missing);
  }
  const chosen = hosts === undefined ? all : all.filter((s) => hosts.includes(s.id));
  const result: BatchTargets = { targets: [], skipped: [] };
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
  return result;
}

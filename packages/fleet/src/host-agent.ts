/**
 * The host agent: publishes what a host is and runs (memory, domains) with a
 * heartbeat that expires on its own. It lives in the save worker, the one
 * process every host runs, so "the host is up" means "its save worker is
 * alive and can reach Redis and its hypervisor".
 */
import type { Hypervisor, DomainInfo } from "@xenfleet/hypervisor";
import { runHeartbeat, type HostDomain, type HostInfo } from "@xenfleet/jobs";
import type { Redis } from "ioredis";

export interface HostIdentity {
  id: string;
  address: string;
  tags: string[];
}

/** One registration of the host, read from its hypervisor. */
export async function readHostInfo(hypervisor: Hypervisor, identity: HostIdentity): Promise<HostInfo> {
  const [host, domains] = await Promise.all([hypervisor.hostInfo(), hypervisor.listDomains()]);
  return {
    v: 1,
    id: identity.id,
    address: identity.address,
    memoryTotal: host.totalMemoryBytes,
    memoryFree: Math.max(0, host.freeMemoryBytes),
    tags: identity.tags,
    domains: domains.slice(0, 4096).map(domainOf),
  };
}

function domainOf(d: DomainInfo): HostDomain {
  return { uuid: d.uuid, name: d.name, memory: d.memoryBytes, state: d.state };
}

export interface HostAgentOptions {
  redis: Redis;
  prefix: string;
  hypervisor: Hypervisor;
  identity: HostIdentity;
  intervalMs: number;
  signal: AbortSignal;
  onError?: (err: unknown) => void;
}

/** Beat until `signal` aborts; resolves once the loop has stopped. */
export function runHostAgent(options: HostAgentOptions): Promise<void> {
  return runHeartbeat({
    redis: options.redis,
    prefix: options.prefix,
    intervalMs: options.intervalMs,
    signal: options.signal,
    read: () => readHostInfo(options.hypervisor, options.identity),
    ...(options.onError ? { onError: options.onError } : {}),
  });
}

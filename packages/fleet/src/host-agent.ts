/**
 * The host agent: publishes what a host is and runs (memory, domains) with a
 * heartbeat that expires on its own. It lives in the save worker, the one
 * process every host runs, so "the host is up" means "its save worker is
 * alive and can reach Redis and its hypervisor".
 */
import type { Hypervisor, DomainInfo } from "@xenfleet/hypervisor";
import {
  keys,
  type Logger,
  registryClock,
  runHeartbeat,
  updateHostDomains,
  type HostDomain,
  type HostInfo,
  type RedisClient,
} from "@xenfleet/jobs";
import type { HostEnv } from "./host-config.js";

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

/**
 * Publishes the host's domains now, not at its next heartbeat: called by a
 * job that just changed them (a restore, either side of a migration) before
 * it reports done, so whoever waited for the job reads a registry that
 * already shows the change. A failure only delays the news to the next beat,
 * so it is logged, never thrown: the job's work is done.
 */
export async function publishHostDomains(options: {
  redis: RedisClient;
  prefix: string;
  host: string;
  hypervisor: Hypervisor;
  logger: Logger;
}): Promise<void> {
  try {
    const readAt = await registryClock(options.redis, options.prefix);
    const [host, domains] = await Promise.all([options.hypervisor.hostInfo(), options.hypervisor.listDomains()]);
    await updateHostDomains(options.redis, options.prefix, options.host, {
      memoryFree: host.freeMemoryBytes,
      domains: domains.map(domainOf),
      readAt,
    });
  } catch (err) {
    options.logger.warn({ err }, "could not publish the host's domains; the next heartbeat will");
  }
}

function domainOf(d: DomainInfo): HostDomain {
  return { uuid: d.uuid, name: d.name, memory: d.memoryBytes, state: d.state };
}

export interface HostAgentOptions {
  redis: RedisClient;
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

export interface HostAgentHandle {
  /** Stops the heartbeat and deletes it: a host whose agent stops on purpose is down at once, not when the beat expires. */
  stop(): Promise<void>;
}

/**
 * The agent of the host a service serves, from its configuration. Its
 * heartbeat outlives the service's shutdown signal (while a job in hand
 * finishes, the host is still up): stop it among the service's closers.
 */
export function startHostAgent(options: {
  redis: RedisClient;
  prefix: string;
  hypervisor: Hypervisor;
  config: HostEnv;
  logger: Logger;
}): HostAgentHandle {
  const { config } = options;
  const stop = new AbortController();
  const running = runHostAgent({
    redis: options.redis,
    prefix: options.prefix,
    hypervisor: options.hypervisor,
    identity: { id: config.XENFLEET_HOST, address: config.XENFLEET_HOST_ADDRESS, tags: config.XENFLEET_HOST_TAGS },
    intervalMs: config.XENFLEET_HEARTBEAT_MS,
    signal: stop.signal,
    onError: (err) => options.logger.warn({ err }, "heartbeat failed"),
  });
  return {
    stop: async () => {
      stop.abort();
      await running;
      await options.redis.del(keys.alive(options.prefix, config.XENFLEET_HOST));
    },
  };
}

/**
 * The fleet's subjects named on a command line (hosts, domains), looked up
 * in the registry: an unknown one is NotFoundError (exit code 2), a host
 * that is down HostDownError (exit code 3).
 */
import { getHost, listHosts, type HostDomain, type HostStatus, type RedisClient } from "@xenfleet/jobs";
import { HostDownError, NotFoundError, UuidInUseError } from "../errors.js";

export function unknownHost(host: string): NotFoundError {
  return new NotFoundError("host", host, `no host ${host} is registered (xenfleet hosts lists them)`);
}

/** A registered host, which must be up (or draining, when `draining` may get work). */
export async function upHost(redis: RedisClient, prefix: string, host: string): Promise<HostStatus> {
  const status = await getHost(redis, prefix, host);
  if (status === undefined) throw unknownHost(host);
  if (status.state === "down") throw new HostDownError(host);
  return status;
}

/** Each of `hosts` must be registered. */
export async function registeredHosts(
  redis: RedisClient,
  prefix: string,
  hosts: readonly string[],
): Promise<HostStatus[]> {
  const all = await listHosts(redis, prefix);
  const missing = hosts.find((h) => !all.some((s) => s.id === h));
  if (missing !== undefined) throw unknownHost(missing);
  return all.filter((s) => hosts.includes(s.id));
}

/** A domain by name or uuid on the hosts given (the first that reports it). */
export function findDomain(
  hosts: readonly HostStatus[],
  nameOrUuid: string,
  where = "no registered host reports a domain",
): { host: HostStatus; domain: HostDomain } {
  const wanted = nameOrUuid.toLowerCase();
  for (const host of hosts) {
    const domain = host.info?.domains.find((d) => d.uuid === wanted || d.name === nameOrUuid);
    if (domain !== undefined) return { host, domain };
  }
  throw new NotFoundError("domain", nameOrUuid, `${where} ${JSON.stringify(nameOrUuid)}`);
}

/** Refuses a uuid that a registered host reports running: a restore must not make a twin. */
export async function refuseRunningUuid(redis: RedisClient, prefix: string, uuid: string): Promise<void> {
  const wanted = uuid.toLowerCase();
  for (const host of await listHosts(redis, prefix)) {
    const twin = host.info?.domains.find((d) => d.uuid === wanted);
    if (twin !== undefined) throw new UuidInUseError(wanted, host.id, twin.name);
  }
}

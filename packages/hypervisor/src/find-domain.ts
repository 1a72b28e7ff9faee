import type { DomainInfo, Hypervisor } from "./hypervisor.js";

/**
 * The host's domain with this uuid, or undefined. Unlike domainInfo(), it
 * never matches a name or domid and never throws for a missing domain:
 * callers ask whether a copy of a domain is already on the host.
 */
export async function findDomain(hv: Hypervisor, uuid: string): Promise<DomainInfo | undefined> {
  return (await hv.listDomains()).find((d) => d.uuid === uuid);
}

import { type Hypervisor, SimHost, XenHypervisor } from "@xenfleet/hypervisor";
import { defaultSimDir, type HostEnv } from "./host-config.js";

export interface HypervisorConfig {
  kind: "sim" | "xen";
  host: string;
  /** sim only: the host's state directory. */
  simDir?: string | undefined;
  /** sim only: memory of a new sim host. */
  simMemoryBytes?: number;
  /** sim only: compute the digest oracle into save reports (default true; it hashes all of memory). */
  simSaveDigest?: boolean;
}

/**
 * The hypervisor a host's workers drive. Several processes on one host (the
 * save and restore workers) open the same sim state directory; the sim
 * serialises them with lock files.
 */
export async function openHypervisor(config: HypervisorConfig): Promise<Hypervisor> {
  if (config.kind === "xen") return new XenHypervisor();
  return SimHost.open(config.simDir ?? defaultSimDir(config.host), {
    name: config.host,
    ...(config.simMemoryBytes !== undefined ? { totalMemoryBytes: config.simMemoryBytes } : {}),
    ...(config.simSaveDigest !== undefined ? { recordSaveDigest: config.simSaveDigest } : {}),
  });
}

/** The hypervisor of the host a service serves, as its configuration names it. */
export function hostHypervisor(config: HostEnv, options: { simSaveDigest?: boolean } = {}): Promise<Hypervisor> {
  return openHypervisor({
    kind: config.XENFLEET_HYPERVISOR,
    host: config.XENFLEET_HOST,
    simDir: config.XENFLEET_SIM_DIR,
    simMemoryBytes: config.XENFLEET_SIM_MEMORY,
    ...options,
  });
}

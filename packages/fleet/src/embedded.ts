/**
 * The embedded fleet: N simulated hosts with M domains each, and every
 * service as a child process of one supervisor, on one machine. `xenfleet up`
 * and `xenfleet demo` are built on it; so are the end-to-end tests.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SimHost, type DomainInfo } from "@xenfleet/hypervisor";
import type { ChildSpec } from "./supervisor.js";

export interface EmbeddedFleet {
  hosts: number;
  domains: number;
  /** Memory of each domain. */
  domainMemoryBytes: number;
  /** Memory each sim host offers. */
  hostMemoryBytes: number;
  /** Pages per second each running domain writes. */
  dirtyPagesPerSec: number;
  compressWorkers: number;
  redis: string;
  prefix: string;
  /** A store URL (file:///..., s3://...): the fleet's one store, which its workers and jobs call EMBEDDED_STORE. */
  store: string;
  /** Sim hosts live in <stateDir>/hosts/host-N, logs in <stateDir>/logs. */
  stateDir: string;
  logLevel?: string;
  heartbeatMs?: number;
  /** Extra environment for every child (e.g. AWS credentials for an S3 store). */
  env?: Record<string, string>;
}

export function hostIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `host-${i + 1}`);
}

export function simDir(stateDir: string, host: string): string {
  return resolve(stateDir, "hosts", host);
}

/**
 * Create each sim host and the domains it should run, leaving existing ones
 * as they are (their memory has moved on since; that is what makes the next
 * save incremental), apart from the dirty rate, which follows the flag.
 * A domain is looked for on every host of the fleet, not only its first: one
 * that migrated runs elsewhere now, and creating it again by name would make
 * a second domain, with a new uuid, beside it.
 */
export async function prepareSimHosts(fleet: EmbeddedFleet, signal?: AbortSignal): Promise<DomainInfo[]> {
  const created: DomainInfo[] = [];
  const elsewhere = await domainsOnHosts(fleet);
  for (const [h, host] of hostIds(fleet.hosts).entries()) {
    created.push(
      ...(await prepareSimHost(
        {
          host,
          dir: simDir(fleet.stateDir, host),
          hostMemoryBytes: fleet.hostMemoryBytes,
          domains: fleet.domains,
          domainMemoryBytes: fleet.domainMemoryBytes,
          dirtyPagesPerSec: fleet.dirtyPagesPerSec,
          seedBase: (h + 1) * 1000,
          elsewhere,
        },
        signal,
      )),
    );
  }
  return created;
}

export interface SimHostSetup {
  host: string;
  dir: string;
  hostMemoryBytes: number;
  domains: number;
  domainMemoryBytes: number;
  dirtyPagesPerSec: number;
  /** Domain d's memory content derives from seedBase + d. */
  seedBase: number;
  /** Names of domains other hosts run: not created here again. */
  elsewhere?: ReadonlySet<string>;
}

/** The names of the domains every existing sim host of the fleet runs. */
async function domainsOnHosts(fleet: EmbeddedFleet): Promise<Set<string>> {
  const names = new Set<string>();
  for (const host of hostIds(fleet.hosts)) {
    const dir = simDir(fleet.stateDir, host);
    if (!(await SimHost.exists(dir))) continue;
    for (const d of await (await SimHost.open(dir)).listDomains()) names.add(d.name);
  }
  return names;
}

/** One sim host with domains <host>-vm-1 ... <host>-vm-M (see prepareSimHosts). */
export async function prepareSimHost(setup: SimHostSetup, signal?: AbortSignal): Promise<DomainInfo[]> {
  const created: DomainInfo[] = [];
  const sim = await SimHost.open(setup.dir, { name: setup.host, totalMemoryBytes: setup.hostMemoryBytes });
  const existing = await sim.listDomains();
  for (let d = 1; d <= setup.domains; d++) {
    const name = `${setup.host}-vm-${d}`;
    const found = existing.find((e) => e.name === name);
    if (found !== undefined) {
      await sim.setDirtyRate(found.uuid, setup.dirtyPagesPerSec);
      continue;
    }
    if (setup.elsewhere?.has(name)) continue;
    created.push(
      await sim.createDomain(
        {
          name,
          type: d % 2 === 1 ? "pv" : "hvm",
          memoryBytes: setup.domainMemoryBytes,
          seed: setup.seedBase + d,
          dirtyPagesPerSec: setup.dirtyPagesPerSec,
        },
        signal,
      ),
    );
  }
  return created;
}

/**
 * Node flags a service runs with (docker-compose.yml gives the same).
 * A compress worker is the unit of scale-out, one per core. Rewriting packs
 * allocates fast, and V8's parallel and concurrent GC ran on other threads
 * for about half of the main thread's time again (CPU time measured per
 * thread: a lone worker kept 1.5 cores busy), so two workers on two cores
 * gained about 1.4x, not 2x. With the GC on the worker's own thread, the
 * rest of the process uses about a tenth more and CPU per byte is unchanged.
 */
export const SERVICE_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  "compress-worker": ["--single-threaded-gc"],
};

/** How to run a service: its built entry point, or its sources when this code itself runs from sources. */
export function serviceCommand(service: string): { command: string; args: string[] } {
  const services = fileURLToPath(new URL("../../../services/", import.meta.url));
  const fromSource = import.meta.url.endsWith(".ts");
  const flags = SERVICE_NODE_FLAGS[service] ?? [];
  const built = join(services, service, "dist", "main.js");
  if (!fromSource && existsSync(built)) return { command: process.execPath, args: [...flags, built] };
  // tsx by its resolved location: the child's working directory may be anywhere.
  return {
    command: process.execPath,
    args: [
      ...flags,
      "--conditions=source",
      "--import",
      import.meta.resolve("tsx"),
      join(services, service, "src", "main.ts"),
    ],
  };
}

/** What an embedded fleet's workers call its store (XENFLEET_STORE's name), and so what its jobs name. */
export const EMBEDDED_STORE = "main";

/** Every process of the embedded fleet. */
export function fleetChildren(fleet: EmbeddedFleet, baseEnv: Record<string, string | undefined>): ChildSpec[] {
  // The fleet has one store, "main"; a list in the caller's environment is not this fleet's.
  const { XENFLEET_STORES: _notOurs, ...inherited } = baseEnv;
  const common: Record<string, string> = {
    ...definedOnly(inherited),
    ...fleet.env,
    XENFLEET_REDIS: fleet.redis,
    XENFLEET_PREFIX: fleet.prefix,
    XENFLEET_STORE: fleet.store,
    XENFLEET_LOG_LEVEL: fleet.logLevel ?? "info",
    // Many processes on one machine: each serves its metrics on a free port of
    // the loopback address and registers the URL (xenfleet status lists them).
    XENFLEET_METRICS_PORT: "auto",
    XENFLEET_METRICS_BIND: "127.0.0.1",
  };
  const child = (name: string, service: string, env: Record<string, string> = {}): ChildSpec => ({
    name,
    ...serviceCommand(service),
    env: { ...common, ...env },
  });
  const specs: ChildSpec[] = [child("controller", "controller")];
  for (const host of hostIds(fleet.hosts)) {
    const hostEnv = {
      ...common,
      XENFLEET_HOST: host,
      XENFLEET_HYPERVISOR: "sim",
      XENFLEET_SIM_DIR: simDir(fleet.stateDir, host),
      XENFLEET_SIM_MEMORY: String(fleet.hostMemoryBytes),
      XENFLEET_HOST_ADDRESS: "127.0.0.1",
      ...(fleet.heartbeatMs !== undefined ? { XENFLEET_HEARTBEAT_MS: String(fleet.heartbeatMs) } : {}),
    };
    specs.push(...hostChildren(host, hostEnv));
  }
  for (let i = 1; i <= fleet.compressWorkers; i++) specs.push(child(`compress-${i}`, "compress-worker"));
  return specs;
}

/**
 * The processes of one host: its save worker (also the host's agent), its
 * restore worker and its migrate worker, all with the host's environment
 * (XENFLEET_HOST, the hypervisor, the sim directory). With a metrics port P
 * in the environment they serve metrics on P, P+1 and P+2 ("auto": each on
 * a free port).
 */
export function hostChildren(host: string, env: Record<string, string>): ChildSpec[] {
  const port = env.XENFLEET_METRICS_PORT === "auto" ? 0 : Number(env.XENFLEET_METRICS_PORT ?? "0");
  const metrics = (offset: number): Record<string, string> =>
    port > 0 ? { XENFLEET_METRICS_PORT: String(port + offset) } : {};
  const child = (name: string, service: string, extra: Record<string, string>): ChildSpec => ({
    name: `${host}-${name}`,
    ...serviceCommand(service),
    env: { ...env, ...extra },
  });
  return [
    child("save", "save-worker", metrics(0)),
    child("restore", "restore-worker", metrics(1)),
    // The save worker is this host's agent (heartbeat); the migrate worker only serves migrations.
    child("migrate", "migrate-worker", {
      ...metrics(2),
      XENFLEET_MIGRATE_AGENT: "0",
      XENFLEET_MIGRATE_BIND: env.XENFLEET_MIGRATE_BIND ?? "127.0.0.1",
    }),
  ];
}

export function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

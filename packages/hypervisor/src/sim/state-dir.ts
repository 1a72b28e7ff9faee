import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { SimStateError } from "../errors.js";
import type { DomainState, DomainType } from "../hypervisor.js";
import type { DirtyClock } from "./dirty.js";

/**
 * The on-disk layout of a sim host, so that a restarted process, or several
 * processes at once, see the same domains:
 *
 *     <dir>/host.json                   name, total memory, next domid
 *     <dir>/host.lock                   held while creating or removing domains
 *     <dir>/domains/<uuid>/meta.json    DomainMeta, replaced atomically
 *     <dir>/domains/<uuid>/memory.img   pages at pfn*4096, zero pages are holes
 *     <dir>/domains/<uuid>/platform.json  non-memory records (vCPUs, ...)
 *     <dir>/domains/<uuid>.lock         held by whoever operates on the domain
 *     <dir>/incoming/                   domains being built; renamed into domains/ when complete
 */
export const STATE_VERSION = 1;

export interface HostMeta {
  version: number;
  name: string;
  totalMemoryBytes: number;
  nextDomid: number;
}

export interface DomainMeta extends DirtyClock {
  version: number;
  uuid: string;
  domid: number;
  name: string;
  type: DomainType;
  pages: number;
  vcpus: number;
  state: DomainState;
  /** The xl domain config (libxl_domain_config as JSON), written into the xl header. */
  config: unknown;
}

export const paths = {
  host: (dir: string) => join(dir, "host.json"),
  hostLock: (dir: string) => join(dir, "host.lock"),
  domains: (dir: string) => join(dir, "domains"),
  incoming: (dir: string) => join(dir, "incoming"),
  domain: (dir: string, uuid: string) => join(dir, "domains", uuid),
  domainLock: (dir: string, uuid: string) => join(dir, "domains", `${uuid}.lock`),
  meta: (domainDir: string) => join(domainDir, "meta.json"),
  memory: (domainDir: string) => join(domainDir, "memory.img"),
  platform: (domainDir: string) => join(domainDir, "platform.json"),
};

/** Writes a file so that readers see the old or the new content, never a mix. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

export async function readJson<T>(path: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new SimStateError(`cannot read ${path}`, { cause: err });
  }
  let value: { version?: unknown };
  try {
    value = JSON.parse(text) as { version?: unknown };
  } catch (err) {
    throw new SimStateError(`${path} is not JSON`, { cause: err });
  }
  if (value.version !== STATE_VERSION) {
    throw new SimStateError(
      `${path} has state version ${String(value.version)}; this code reads version ${STATE_VERSION}`,
    );
  }
  return value as T;
}

export async function writeMeta(domainDir: string, meta: DomainMeta): Promise<void> {
  await writeFileAtomic(paths.meta(domainDir), JSON.stringify(meta, null, 2));
}

export async function readMeta(domainDir: string): Promise<DomainMeta> {
  return readJson<DomainMeta>(paths.meta(domainDir));
}

export async function ensureHostDir(dir: string, defaults: Omit<HostMeta, "version" | "nextDomid">): Promise<HostMeta> {
  await mkdir(paths.domains(dir), { recursive: true });
  await mkdir(paths.incoming(dir), { recursive: true });
  try {
    return await readJson<HostMeta>(paths.host(dir));
  } catch (err) {
    const missing = (err as { cause?: NodeJS.ErrnoException }).cause?.code === "ENOENT";
    if (!missing) throw err;
  }
  const meta: HostMeta = { version: STATE_VERSION, nextDomid: 1, ...defaults };
  // Two processes opening a fresh dir at once: first writer wins, both read it back.
  try {
    const fh = await open(paths.host(dir), "wx");
    await fh.writeFile(JSON.stringify(meta, null, 2));
    await fh.close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return readJson<HostMeta>(paths.host(dir));
}

/** The uuids of complete domains (directories under domains/). */
export async function listDomainDirs(dir: string): Promise<string[]> {
  const entries = await readdir(paths.domains(dir), { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith(".")).map((e) => e.name);
}

/** Removes a domain directory: renamed aside first, so no reader sees it half-deleted. */
export async function removeDomainDir(domainDir: string): Promise<void> {
  const aside = join(dirname(domainDir), `.deleting-${basename(domainDir)}-${randomBytes(4).toString("hex")}`);
  await rename(domainDir, aside);
  await rm(aside, { recursive: true, force: true });
}

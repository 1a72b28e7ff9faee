import { OperationAbortedError, isProcessRunning } from "@xenfleet/core";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { access, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { DomainExistsError, DomainNotFoundError, InsufficientMemoryError, MigrationStateError } from "../errors.js";
import type {
  DomainDigest,
  DomainInfo,
  DomainRef,
  DomainType,
  HostInfo,
  Hypervisor,
  LiveOptions,
  MigrateSendOptions,
  MigrationReceiver,
  MigrationSender,
  RestoreOptions,
  SaveOptions,
  SaveReport,
} from "../hypervisor.js";
import { checkDomainUuid } from "../uuid.js";
import { withIdentity } from "../domain-config.js";
import { makeDomainConfig } from "./config.js";
import { PAGE_SIZE } from "./content.js";
import { digestOf } from "./digest.js";
import { infoOf, SimDomain } from "./domain.js";
import { acquire, withLock } from "./lock.js";
import { DomainMemory } from "./memory.js";
import { writePlatform } from "./platform.js";
import { generatePlatform } from "./platform-gen.js";
import { writeImage } from "./precopy.js";
import { buildDomainFromStream } from "./stream-restorer.js";
import {
  ensureHostDir,
  listDomainDirs,
  paths,
  readJson,
  readMeta,
  removeDomainDir,
  STATE_VERSION,
  writeFileAtomic,
  writeMeta,
  type DomainMeta,
  type HostMeta,
} from "./state-dir.js";

export interface SimHostOptions {
  /** Host name (default: the directory's base name); only used when the directory is new. */
  name?: string;
  /** Memory the host offers its domains (default 64 GiB); only used when the directory is new. */
  totalMemoryBytes?: number;
  /** How long to wait for a domain another operation holds (default 5000 ms). */
  lockWaitMs?: number;
  /** Compute the digest of the saved state at the paused point into each SaveReport (default true); a migration's report gets it on commit(), outside the downtime. */
  recordSaveDigest?: boolean;
}

export interface SimDomainSpec {
  name: string;
  type: DomainType;
  /** A positive multiple of 4096. */
  memoryBytes: number;
  vcpus?: number;
  /** Memory content and page writes derive from it (default: from the uuid). */
  seed?: number;
  /** Pages the guest writes per second while running (default 0). */
  dirtyPagesPerSec?: number;
  uuid?: string;
  paused?: boolean;
}

/**
 * A simulated Xen host kept in a state directory (see state-dir.ts), so that
 * restarting the process loses nothing and several processes can share it.
 * Each operation on a domain takes the domain's lock file; creating and
 * removing domains also takes the host lock.
 */
export class SimHost implements Hypervisor {
  readonly kind = "sim";

  private constructor(
    readonly dir: string,
    private readonly options: SimHostOptions,
  ) {}

  static async open(dir: string, options: SimHostOptions = {}): Promise<SimHost> {
    await ensureHostDir(dir, {
      name: options.name ?? dir.split("/").filter(Boolean).pop() ?? "sim",
      totalMemoryBytes: options.totalMemoryBytes ?? 64 * 2 ** 30,
    });
    const host = new SimHost(dir, options);
    await host.sweepIncoming();
    return host;
  }

  /** Whether `dir` holds a sim host already (open() would create one). */
  static async exists(dir: string): Promise<boolean> {
    return access(paths.host(dir)).then(
      () => true,
      () => false,
    );
  }

  async hostInfo(): Promise<HostInfo> {
    const meta = await this.hostMeta();
    const domains = await this.metas();
    const used = domains.reduce((sum, d) => sum + d.pages * PAGE_SIZE, 0);
    return {
      name: meta.name,
      kind: this.kind,
      totalMemoryBytes: meta.totalMemoryBytes,
      freeMemoryBytes: meta.totalMemoryBytes - used,
      domains: domains.length,
    };
  }

  async listDomains(): Promise<DomainInfo[]> {
    return (await this.metas()).map(infoOf).sort((a, b) => a.domid - b.domid);
  }

  async domainInfo(domain: DomainRef): Promise<DomainInfo> {
    return infoOf(await this.resolve(domain));
  }

  /** Creates a domain with generated memory content (sim only: real domains need kernels). */
  async createDomain(spec: SimDomainSpec, signal?: AbortSignal): Promise<DomainInfo> {
    if (!Number.isSafeInteger(spec.memoryBytes) || spec.memoryBytes <= 0 || spec.memoryBytes % PAGE_SIZE !== 0) {
      throw new RangeError(`memoryBytes must be a positive multiple of ${PAGE_SIZE}, got ${spec.memoryBytes}`);
    }
    const uuid = spec.uuid === undefined ? randomUUID() : checkDomainUuid(spec.uuid);
    const vcpus = spec.vcpus ?? 1;
    const pages = spec.memoryBytes / PAGE_SIZE;
    const seed = spec.seed ?? seedOf(uuid);
    await this.checkFree(pages);
    return this.build(async (dir) => {
      const memory = await DomainMemory.create(paths.memory(dir), pages);
      try {
        await memory.generate(seed, signal);
      } finally {
        await memory.close();
      }
      await writePlatform(dir, generatePlatform(spec.type, pages, vcpus, seed));
      return {
        uuid,
        name: spec.name,
        type: spec.type,
        pages,
        vcpus,
        state: spec.paused ? "paused" : "running",
        seed,
        dirtyPagesPerSec: spec.dirtyPagesPerSec ?? 0,
        config: makeDomainConfig({ name: spec.name, uuid, type: spec.type, memoryBytes: spec.memoryBytes, vcpus }),
      };
    });
  }

  /** Changes how fast a domain writes its memory (sim only). */
  async setDirtyRate(domain: DomainRef, pagesPerSec: number): Promise<void> {
    await this.withDomain(domain, async (d) => {
      d.meta.dirtyPagesPerSec = pagesPerSec;
    });
  }

  /**
   * The guest writes `count` distinct pages now, spread over its memory, each
   * with content no other page has (sim only: a test's exact, known change,
   * where the dirty rate's writes depend on time).
   */
  async writePages(domain: DomainRef, count: number): Promise<void> {
    await this.withDomain(domain, async (d) => {
      const pages = d.memory.pages;
      if (!Number.isSafeInteger(count) || count < 0 || count > pages)
        throw new RangeError(`count must be 0..${pages} (the domain's pages), got ${count}`);
      const stride = Math.floor(pages / Math.max(1, count));
      for (let i = 0; i < count; i++) await d.memory.write(i * stride, randomBytes(PAGE_SIZE));
      await d.memory.sync();
    });
  }

  async pause(domain: DomainRef): Promise<void> {
    await this.withDomain(domain, (d) => d.pause());
  }

  async unpause(domain: DomainRef): Promise<void> {
    await this.withDomain(domain, (d) => d.unpause());
  }

  async destroy(domain: DomainRef): Promise<void> {
    await this.withDomain(domain, (d) => this.remove(d));
  }

  async digest(domain: DomainRef): Promise<DomainDigest> {
    return this.withDomain(domain, async (d) => digestOf(d.memory, await d.platform()));
  }

  async save(domain: DomainRef, sink: Writable, options: SaveOptions): Promise<SaveReport> {
    return this.withDomain(
      domain,
      async (d) => {
        const wasRunning = d.running;
        let report: SaveReport;
        try {
          report = await writeImage(d, sink, options.mode, options.live, options.signal);
          if (this.options.recordSaveDigest !== false)
            report.digest = (await digestOf(d.memory, await d.platform())).digest;
        } catch (err) {
          if (wasRunning) await d.unpause();
          sink.destroy();
          throw aborted(err, "save", options.signal);
        }
        if (options.mode === "suspend") {
          if (!options.keepSuspended) await this.remove(d);
        } else if (wasRunning) await d.unpause();
        return report;
      },
      options.signal,
    );
  }

  async restore(source: Readable, options: RestoreOptions = {}): Promise<DomainInfo> {
    const free = (await this.hostInfo()).freeMemoryBytes;
    return this.build(async (dir) => {
      const built = await buildDomainFromStream(
        source,
        dir,
        Math.floor(Math.max(0, free) / PAGE_SIZE),
        options.signal,
      ).catch((err: unknown) => {
        throw aborted(err, "restore", options.signal);
      });
      // The uuid names the domain's directory: one from the stream is whatever its writer chose.
      const uuid = checkDomainUuid(options.uuid ?? built.uuid ?? randomUUID());
      const name = options.name ?? built.name ?? `domain-${uuid.slice(0, 8)}`;
      return {
        uuid,
        name,
        type: built.type,
        pages: built.pages,
        vcpus: built.vcpus,
        state: options.paused ? "paused" : "running",
        seed: seedOf(uuid),
        dirtyPagesPerSec: 0,
        config: withIdentity(built.config, { name, uuid }),
      };
    });
  }

  /** The sim's pre-copy (precopy.ts) honours every option. */
  checkLiveOptions(_live: LiveOptions): void {}

  async migrateSend(domain: DomainRef, sink: Writable, options: MigrateSendOptions = {}): Promise<MigrationSender> {
    const meta = await this.resolve(domain);
    const lock = paths.domainLock(this.dir, meta.uuid);
    // The lock is held until commit or abort: nobody may touch the paused source meanwhile.
    await acquire(lock, { waitMs: this.options.lockWaitMs, signal: options.signal });
    let d: SimDomain;
    try {
      d = await SimDomain.open(paths.domain(this.dir, meta.uuid));
    } catch (err) {
      await rm(lock, { force: true });
      throw err;
    }
    const wasRunning = d.running;
    let report: SaveReport;
    try {
      // Persist "paused" beside the final pass; it is done before this returns,
      // so before the caller can commit: should this process die after a
      // commit, the source must not run beside the target.
      report = await writeImage(d, sink, "live", options, options.signal, async () => {
        options.onPaused?.();
        await d.persist();
      });
    } catch (err) {
      if (wasRunning) await d.unpause();
      await d.close();
      await rm(lock, { force: true });
      sink.destroy();
      throw aborted(err, "migration send", options.signal);
    }
    let settled = false;
    const settle = async (fn: () => Promise<void>) => {
      if (settled) throw new MigrationStateError("migration already committed or aborted");
      settled = true;
      try {
        await fn();
      } finally {
        await rm(lock, { force: true });
      }
    };
    return {
      report,
      // The digest is taken here, not before the handle is returned: the source
      // stays paused and unchanged until commit, and hashing all of memory
      // before COMMIT could be sent would add to the migration's downtime.
      commit: () =>
        settle(async () => {
          if (this.options.recordSaveDigest !== false)
            report.digest = (await digestOf(d.memory, await d.platform())).digest;
          await this.remove(d);
        }),
      abort: () =>
        settle(async () => {
          if (wasRunning) await d.unpause();
          await d.close();
        }),
    };
  }

  async migrateReceive(source: Readable, options: RestoreOptions = {}): Promise<MigrationReceiver> {
    const domain = await this.restore(source, { ...options, paused: true });
    let settled = false;
    const settle = async (fn: () => Promise<void>) => {
      if (settled) throw new MigrationStateError("received domain already started or aborted");
      settled = true;
      await fn();
    };
    return {
      domain,
      start: () => settle(() => this.unpause(domain.uuid)),
      abort: () => settle(() => this.destroy(domain.uuid)),
    };
  }

  // ---- internals ----

  private async hostMeta(): Promise<HostMeta> {
    return readJson<HostMeta>(paths.host(this.dir));
  }

  /** Metas of all complete domains; a domain removed while listing is skipped. */
  private async metas(): Promise<DomainMeta[]> {
    const out: DomainMeta[] = [];
    for (const uuid of await listDomainDirs(this.dir)) {
      try {
        out.push(await readMeta(paths.domain(this.dir, uuid)));
      } catch (err) {
        if ((err as { cause?: NodeJS.ErrnoException }).cause?.code !== "ENOENT") throw err;
      }
    }
    return out;
  }

  private async resolve(ref: DomainRef): Promise<DomainMeta> {
    const all = await this.metas();
    const found =
      typeof ref === "number"
        ? all.find((m) => m.domid === ref)
        : (all.find((m) => m.uuid === ref) ?? all.find((m) => m.name === ref));
    if (!found) throw new DomainNotFoundError(ref);
    return found;
  }

  /** Runs `fn` on the domain under its lock; meta is persisted afterwards unless the domain was removed. */
  private async withDomain<T>(ref: DomainRef, fn: (d: SimDomain) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const meta = await this.resolve(ref);
    return withLock(
      paths.domainLock(this.dir, meta.uuid),
      async () => {
        let d: SimDomain;
        try {
          d = await SimDomain.open(paths.domain(this.dir, meta.uuid));
        } catch (err) {
          // Destroyed by someone else between resolve and lock.
          if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === "ENOENT") throw new DomainNotFoundError(ref);
          throw err;
        }
        let result: T;
        try {
          result = await fn(d);
        } finally {
          if (!this.removed.has(d)) await d.close();
        }
        return result;
      },
      { waitMs: this.options.lockWaitMs, signal },
    );
  }

  private readonly removed = new WeakSet<SimDomain>();

  private async remove(d: SimDomain): Promise<void> {
    this.removed.add(d);
    await d.discard();
    await withLock(paths.hostLock(this.dir), () => removeDomainDir(d.dir), { waitMs: this.options.lockWaitMs });
  }

  private async checkFree(pages: number): Promise<void> {
    const free = (await this.hostInfo()).freeMemoryBytes;
    if (pages * PAGE_SIZE > free) throw new InsufficientMemoryError(pages * PAGE_SIZE, free);
  }

  /**
   * Builds a domain in incoming/ (no lock needed: nobody else sees it), then
   * commits it under the host lock: uniqueness and memory checks, domid,
   * meta.json, and one rename into domains/. On any failure the directory is
   * removed: no half-built domain is ever visible.
   */
  private async build(
    fill: (dir: string) => Promise<Omit<DomainMeta, "version" | "domid" | "dirtyCounter" | "dirtyClockMs">>,
  ): Promise<DomainInfo> {
    const dir = await mkdtemp(join(paths.incoming(this.dir), `${process.pid}-`));
    try {
      const partial = await fill(dir);
      // Every way in (create, restore, migrate) ends here; the uuid becomes a directory name.
      checkDomainUuid(partial.uuid);
      return await withLock(
        paths.hostLock(this.dir),
        async () => {
          const existing = await this.metas();
          if (existing.some((m) => m.uuid === partial.uuid)) throw new DomainExistsError("uuid", partial.uuid);
          if (existing.some((m) => m.name === partial.name)) throw new DomainExistsError("name", partial.name);
          const host = await this.hostMeta();
          const used = existing.reduce((sum, m) => sum + m.pages * PAGE_SIZE, 0);
          if (used + partial.pages * PAGE_SIZE > host.totalMemoryBytes) {
            throw new InsufficientMemoryError(partial.pages * PAGE_SIZE, host.totalMemoryBytes - used);
          }
          const meta: DomainMeta = {
            ...partial,
            version: STATE_VERSION,
            domid: host.nextDomid,
            dirtyCounter: 0,
            dirtyClockMs: Date.now(),
          };
          await writeFileAtomic(
            paths.host(this.dir),
            JSON.stringify({ ...host, nextDomid: host.nextDomid + 1 }, null, 2),
          );
          await writeMeta(dir, meta);
          await rename(dir, paths.domain(this.dir, meta.uuid));
          return infoOf(meta);
        },
        { waitMs: this.options.lockWaitMs },
      );
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Removes incoming/ directories left by processes that died mid-build. */
  private async sweepIncoming(): Promise<void> {
    for (const name of await readdir(paths.incoming(this.dir))) {
      const pid = Number(name.split("-")[0]);
      if (!Number.isInteger(pid) || pid === process.pid || isProcessRunning(pid)) continue;
      await rm(join(paths.incoming(this.dir), name), { recursive: true, force: true });
    }
  }
}

function seedOf(uuid: string): number {
  return createHash("sha256").update(uuid).digest().readUInt32LE(0);
}

/** An error caused by the caller's AbortSignal becomes OperationAbortedError. */
function aborted(err: unknown, operation: string, signal?: AbortSignal): unknown {
  if (signal?.aborted && !(err instanceof OperationAbortedError))
    return new OperationAbortedError(operation, { cause: err });
  return err;
}

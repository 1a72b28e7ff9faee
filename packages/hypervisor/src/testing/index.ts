/**
 * One conformance suite for every Hypervisor backend. A backend's own test
 * file only builds a fixture and calls `describeHypervisorConformance`.
 *
 * The Hypervisor interface cannot create domains (real ones need kernels and
 * disks), so the fixture does: the sim generates them, a Xen fixture boots
 * whatever small guest its host has.
 */
import { PassThrough, Readable, Writable } from "node:stream";
import { OperationAbortedError, XenfleetError, sleep } from "@xenfleet/core";
import { describe, expect, it } from "vitest";
import { DomainNotFoundError, NotSupportedError } from "../errors.js";
import type { DomainInfo, DomainType, Hypervisor, SaveMode, SaveReport } from "../hypervisor.js";

export interface ConformanceDomainSpec {
  name: string;
  type: DomainType;
  memoryBytes: number;
  /** Page writes per second while running (a backend that cannot control it ignores it). */
  dirtyPagesPerSec?: number;
}

export interface ConformanceFixture {
  /** The host under test. */
  host: Hypervisor;
  /** A second host of the same backend, for cross-host restore and migration. */
  peer: Hypervisor;
  createDomain(host: Hypervisor, spec: ConformanceDomainSpec): Promise<DomainInfo>;
  /** Domain types the suite saves and restores on this host. */
  types: DomainType[];
  /** Removes everything the fixture made. */
  cleanup(): Promise<void>;
  /** Memory of the domains the suite creates; a backend whose real guests need more says so (default 16 MiB). */
  domainMemoryBytes?: number;
  /** What the backend can do (default: everything). What it cannot do must be refused with a typed error. */
  capabilities?: Partial<ConformanceCapabilities>;
  /**
   * Proves a restored, running domain carries on from its image, for a
   * backend without `digest` (a real guest's heartbeat, say).
   */
  expectCarriesOn?(host: Hypervisor, domain: DomainInfo): Promise<void>;
  /**
   * Says a test's failure came from the environment, not the backend (an
   * emulator's fault a real guest hit, say): the test then runs again with a
   * new fixture, at most MAX_ENVIRONMENT_RETRIES times. Called once per failure.
   */
  failedByEnvironment?(error: unknown): boolean;
}

/** Runs of one test after failures its fixture blames on the environment. */
export const MAX_ENVIRONMENT_RETRIES = 2;

export interface ConformanceCapabilities {
  /** `digest()` reads a paused domain's memory. */
  digest: boolean;
  /** `restore` can give a copy another name and uuid, beside the original. */
  restoreAs: boolean;
  /** `peer` is another machine: one domain may exist on both at once (a migration's target). */
  separatePeer: boolean;
  /** Domain types that can be saved live and migrated (default: `types`; may name others). */
  liveTypes: DomainType[];
  /** A save reports the pages it sent in each iteration. */
  pagesPerIteration: boolean;
}

export function describeHypervisorConformance(name: string, makeFixture: () => Promise<ConformanceFixture>): void {
  const MiB = 2 ** 20;
  let counter = 0;
  const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

  async function withFixture(fn: (f: ConformanceFixture) => Promise<void>): Promise<void> {
    for (let retries = 0; ; retries++) {
      const f = await makeFixture();
      try {
        await fn(f);
        return;
      } catch (err) {
        if (retries >= MAX_ENVIRONMENT_RETRIES || f.failedByEnvironment?.(err) !== true) throw err;
      } finally {
        await f.cleanup();
      }
    }
  }

  /** The digest of the state an image holds: recorded at the paused point, or taken now from a paused domain. */
  async function imageDigest(host: Hypervisor, report: SaveReport, before: string | undefined): Promise<string> {
    if (report.digest) return report.digest;
    if (before) return before;
    return (await host.digest(report.uuid)).digest;
  }

  /** Without any live type, a migration must be refused and leave the domain running. */
  async function expectLiveRefused(f: ConformanceFixture): Promise<void> {
    const d = await f.createDomain(f.host, { name: unique("nolive"), type: f.types[0]!, memoryBytes: memoryOf(f) });
    await expect(f.host.migrateSend(d.uuid, new Collector())).rejects.toBeInstanceOf(XenfleetError);
    expect((await f.host.domainInfo(d.uuid)).state).toBe("running");
  }

  describe(`Hypervisor conformance: ${name}`, () => {
    it("reports host memory", () =>
      withFixture(async ({ host }) => {
        const info = await host.hostInfo();
        expect(info.totalMemoryBytes).toBeGreaterThan(0);
        expect(info.freeMemoryBytes).toBeGreaterThanOrEqual(0);
        expect(info.freeMemoryBytes).toBeLessThanOrEqual(info.totalMemoryBytes);
      }));

    it("lists a domain and finds it by domid, uuid and name; unknown ones are DomainNotFoundError", () =>
      withFixture(async (f) => {
        const type = f.types[0]!;
        const memoryBytes = memoryOf(f);
        const d = await f.createDomain(f.host, { name: unique("list"), type, memoryBytes });
        const listed = (await f.host.listDomains()).find((x) => x.uuid === d.uuid);
        expect(listed).toMatchObject({ name: d.name, type, memoryBytes, state: "running" });
        expect(await f.host.domainInfo(d.domid)).toEqual(listed);
        expect(await f.host.domainInfo(d.uuid)).toEqual(listed);
        expect(await f.host.domainInfo(d.name)).toEqual(listed);
        await expect(f.host.domainInfo("no-such-domain")).rejects.toBeInstanceOf(DomainNotFoundError);
      }));

    it("pauses and unpauses idempotently, destroys and frees memory", () =>
      withFixture(async (f) => {
        const memoryBytes = memoryOf(f);
        const d = await f.createDomain(f.host, { name: unique("state"), type: f.types[0]!, memoryBytes });
        await f.host.pause(d.uuid);
        await f.host.pause(d.uuid);
        expect((await f.host.domainInfo(d.uuid)).state).toBe("paused");
        await f.host.unpause(d.uuid);
        await f.host.unpause(d.uuid);
        expect((await f.host.domainInfo(d.uuid)).state).toBe("running");
        const free = (await f.host.hostInfo()).freeMemoryBytes;
        await f.host.destroy(d.uuid);
        await expect(f.host.domainInfo(d.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
        // A real hypervisor scrubs a dead domain's pages before it counts them free.
        expect(await freeMemoryReaching(f.host, free + memoryBytes)).toBeGreaterThanOrEqual(free + memoryBytes);
      }));

    it("digest reads a domain's memory, or is refused as not supported", () =>
      withFixture(async (f) => {
        const d = await f.createDomain(f.host, { name: unique("digest"), type: f.types[0]!, memoryBytes: memoryOf(f) });
        await f.host.pause(d.uuid);
        if (can(f, "digest")) expect((await f.host.digest(d.uuid)).digest).toMatch(/^[0-9a-f]{64}$/);
        else await expect(f.host.digest(d.uuid)).rejects.toBeInstanceOf(NotSupportedError);
      }));

    const modes: SaveMode[] = ["suspend", "checkpoint", "live"];
    for (const mode of modes) {
      it(`save (${mode}) and restore on the same and another host keep the state, for every domain type`, () =>
        withFixture(async (f) => {
          const memoryBytes = memoryOf(f);
          for (const type of mode === "live" ? [...new Set([...f.types, ...liveTypes(f)])] : f.types) {
            const d = await f.createDomain(f.host, {
              name: unique(`${mode}-${type}`),
              type,
              memoryBytes,
              dirtyPagesPerSec: mode === "live" ? 2000 : 0,
            });
            if (mode === "live" && !liveTypes(f).includes(type)) {
              // A backend that cannot track dirty pages for this type must say so and leave the domain running.
              await expect(f.host.save(d.uuid, new Collector(), { mode })).rejects.toBeInstanceOf(XenfleetError);
              expect((await f.host.domainInfo(d.uuid)).state).toBe("running");
              continue;
            }
            const before = mode !== "live" && can(f, "digest") ? (await f.host.digest(d.uuid)).digest : undefined;
            const image = new Collector();
            const report = await f.host.save(d.uuid, image, { mode });
            expect(report.bytesWritten).toBe(image.bytes().length);
            expect(report.bytesWritten).toBeGreaterThan(0);
            if (can(f, "pagesPerIteration")) expect(report.pagesPerIteration[0]).toBe(memoryBytes / 4096);
            const want = can(f, "digest") ? await imageDigest(f.host, report, before) : undefined;

            if (mode === "suspend") {
              await expect(f.host.domainInfo(d.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
              const back = await f.host.restore(Readable.from([image.bytes()]));
              expect(back).toMatchObject({ uuid: d.uuid, name: d.name, type, memoryBytes, state: "running" });
              await expectState(f, f.host, back, want);
            } else {
              expect((await f.host.domainInfo(d.uuid)).state).toBe("running");
              // A second copy beside the original needs its own identity.
              const as = { name: unique("copy"), uuid: crypto.randomUUID(), paused: true };
              if (can(f, "restoreAs")) {
                const copy = await f.host.restore(Readable.from([image.bytes()]), as);
                expect(copy).toMatchObject({ name: as.name, uuid: as.uuid, type, memoryBytes, state: "paused" });
                await expectState(f, f.host, copy, want);
              } else {
                await expect(f.host.restore(Readable.from([image.bytes()]), as)).rejects.toBeInstanceOf(
                  NotSupportedError,
                );
                // Restored in place of the original instead.
                await f.host.destroy(d.uuid);
                const back = await f.host.restore(Readable.from([image.bytes()]));
                expect(back).toMatchObject({ uuid: d.uuid, name: d.name, type, memoryBytes, state: "running" });
                await expectState(f, f.host, back, want);
              }
            }
            if (can(f, "separatePeer")) {
              const other = await f.peer.restore(Readable.from([image.bytes()]), { paused: true });
              expect(other).toMatchObject({ uuid: d.uuid, type, memoryBytes, state: "paused" });
              await expectState(f, f.peer, other, want);
            }
          }
        }));
    }

    it("a suspend save that keeps the domain leaves it stopped until unpaused (it resumes) or destroyed", () =>
      withFixture(async (f) => {
        const d = await f.createDomain(f.host, { name: unique("keep"), type: f.types[0]!, memoryBytes: memoryOf(f) });
        await f.host.save(d.uuid, new Collector(), { mode: "suspend", keepSuspended: true });
        expect((await f.host.domainInfo(d.uuid)).state).toBe("paused");
        await f.host.unpause(d.uuid);
        const resumed = await f.host.domainInfo(d.uuid);
        expect(resumed.state).toBe("running");
        await f.expectCarriesOn?.(f.host, resumed);

        const image = new Collector();
        await f.host.save(d.uuid, image, { mode: "suspend", keepSuspended: true });
        await f.host.destroy(d.uuid);
        await expect(f.host.domainInfo(d.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
        const back = await f.host.restore(Readable.from([image.bytes()]));
        expect(back).toMatchObject({ uuid: d.uuid, name: d.name, state: "running" });
        await f.expectCarriesOn?.(f.host, back);
      }));

    it("live-migrates: the source waits for commit, the target runs with the same state", () =>
      withFixture(async (f) => {
        const type = liveTypes(f)[0];
        if (!type) return expectLiveRefused(f);
        const d = await f.createDomain(f.host, {
          name: unique("mig"),
          type,
          memoryBytes: memoryOf(f),
          dirtyPagesPerSec: 2000,
        });
        if (can(f, "separatePeer")) {
          const wire = new PassThrough();
          const [sender, receiver] = await Promise.all([f.host.migrateSend(d.uuid, wire), f.peer.migrateReceive(wire)]);
          expect((await f.host.domainInfo(d.uuid)).state).toBe("paused");
          expect(receiver.domain.state).toBe("paused");
          await receiver.start();
          await sender.commit();
          await expect(f.host.domainInfo(d.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
          const moved = await f.peer.domainInfo(d.uuid);
          expect(moved.state).toBe("running");
          if (sender.report.digest) {
            await f.peer.pause(d.uuid);
            expect((await f.peer.digest(d.uuid)).digest).toBe(sender.report.digest);
          } else {
            await f.expectCarriesOn?.(f.peer, moved);
          }
          await expect(sender.commit()).rejects.toBeInstanceOf(XenfleetError);
          return;
        }
        // One machine cannot hold the domain twice: the live send goes into a
        // sink, and the target receives it once the source is committed.
        const image = new Collector();
        const sender = await f.host.migrateSend(d.uuid, image);
        expect((await f.host.domainInfo(d.uuid)).state).not.toBe("running");
        await sender.commit();
        await expect(f.host.domainInfo(d.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
        const receiver = await f.peer.migrateReceive(Readable.from([image.bytes()]));
        expect(receiver.domain).toMatchObject({ uuid: d.uuid, name: d.name, type, state: "paused" });
        await receiver.start();
        const moved = await f.peer.domainInfo(d.uuid);
        expect(moved.state).toBe("running");
        await f.expectCarriesOn?.(f.peer, moved);
        await expect(sender.commit()).rejects.toBeInstanceOf(XenfleetError);
      }));

    it("an aborted migration resumes the source and removes the target", () =>
      withFixture(async (f) => {
        const type = liveTypes(f)[0];
        if (!type) return expectLiveRefused(f);
        const d = await f.createDomain(f.host, { name: unique("migab"), type, memoryBytes: memoryOf(f) });
        if (can(f, "separatePeer")) {
          const wire = new PassThrough();
          const [sender, receiver] = await Promise.all([f.host.migrateSend(d.uuid, wire), f.peer.migrateReceive(wire)]);
          await receiver.abort();
          await sender.abort();
          await expect(f.peer.domainInfo(d.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
        } else {
          const sender = await f.host.migrateSend(d.uuid, new Collector());
          await sender.abort();
        }
        const resumed = await f.host.domainInfo(d.uuid);
        expect(resumed.state).toBe("running");
        await f.expectCarriesOn?.(f.host, resumed);
      }));

    it("a truncated stream fails with a typed error and leaves no domain behind", () =>
      withFixture(async (f) => {
        const d = await f.createDomain(f.host, { name: unique("trunc"), type: f.types[0]!, memoryBytes: memoryOf(f) });
        const image = new Collector();
        await f.host.save(d.uuid, image, { mode: "checkpoint" });
        const whole = image.bytes();
        // On one machine the original must go first: its copy could not coexist.
        if (!can(f, "separatePeer")) await f.host.destroy(d.uuid);
        const before = await f.peer.listDomains();
        for (const cut of [10, 200, Math.floor(whole.length / 2), whole.length - 8]) {
          await expect(f.peer.restore(Readable.from([whole.subarray(0, cut)]))).rejects.toBeInstanceOf(XenfleetError);
        }
        expect(await f.peer.listDomains()).toEqual(before);
      }));

    it("an aborted save fails with OperationAbortedError and leaves the domain as it was", () =>
      withFixture(async (f) => {
        const d = await f.createDomain(f.host, { name: unique("abort"), type: f.types[0]!, memoryBytes: memoryOf(f) });
        const ac = new AbortController();
        // A sink that aborts the save after the first megabyte.
        const sink = new Collector(() => {
          if (sink.size > MiB) ac.abort();
        });
        await expect(f.host.save(d.uuid, sink, { mode: "suspend", signal: ac.signal })).rejects.toBeInstanceOf(
          OperationAbortedError,
        );
        const after = await f.host.domainInfo(d.uuid);
        expect(after.state).toBe("running");
        await f.expectCarriesOn?.(f.host, after);
      }));
  });
}

const ALL_CAPABILITIES = { digest: true, restoreAs: true, separatePeer: true, pagesPerIteration: true } as const;

function can(f: ConformanceFixture, what: keyof typeof ALL_CAPABILITIES): boolean {
  return f.capabilities?.[what] ?? ALL_CAPABILITIES[what];
}

function liveTypes(f: ConformanceFixture): DomainType[] {
  return f.capabilities?.liveTypes ?? f.types;
}

function memoryOf(f: ConformanceFixture): number {
  return f.domainMemoryBytes ?? 16 * 2 ** 20;
}

/**
 * Checks a restored domain holds its image's state: by digest where the
 * backend reads memory (pausing it for that), else by the fixture's own proof.
 */
async function expectState(
  f: ConformanceFixture,
  host: Hypervisor,
  domain: DomainInfo,
  want: string | undefined,
): Promise<void> {
  if (want !== undefined) {
    if (domain.state === "running") await host.pause(domain.uuid);
    expect((await host.digest(domain.uuid)).digest).toBe(want);
    return;
  }
  if (domain.state === "paused") await host.unpause(domain.uuid);
  await f.expectCarriesOn?.(host, await host.domainInfo(domain.uuid));
}

/** Polls free memory until it reaches `want` or a minute passes; returns the last reading. */
async function freeMemoryReaching(host: Hypervisor, want: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const free = (await host.hostInfo()).freeMemoryBytes;
    if (free >= want || Date.now() > deadline) return free;
    await sleep(250);
  }
}

/** A Writable that keeps everything written to it. */
export class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  size = 0;

  constructor(private readonly onChunk?: () => void) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error) => void): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.onChunk?.();
    cb();
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

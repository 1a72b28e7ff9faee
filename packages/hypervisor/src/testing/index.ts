/**
 * One conformance suite for every Hypervisor backend. A backend's own test
 * file only builds a fixture and calls `describeHypervisorConformance`.
 *
 * The Hypervisor interface cannot create domains (real ones need kernels and
 * disks), so the fixture does: the sim generates them, a Xen fixture boots
 * whatever small guest its host has.
 */
import { PassThrough, Readable, Writable } from "node:stream";
import { XenfleetError } from "@xenfleet/format";
import { describe, expect, it } from "vitest";
import { DomainNotFoundError, OperationAbortedError } from "../errors.js";
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
  /** Domain types this host can run. */
  types: DomainType[];
  /** Removes everything the fixture made. */
  cleanup(): Promise<void>;
}

export function describeHypervisorConformance(name: string, makeFixture: () => Promise<ConformanceFixture>): void {
  const MiB = 2 ** 20;
  let counter = 0;
  const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

  async function withFixture(fn: (f: ConformanceFixture) => Promise<void>): Promise<void> {
    const f = await makeFixture();
    try {
      await fn(f);
    } finally {
      await f.cleanup();
    }
  }

  /** The digest of the state an image holds: recorded at the paused point, or taken now from a paused domain. */
  async function imageDigest(host: Hypervisor, report: SaveReport, before: string | undefined): Promise<string> {
    if (report.digest) return report.digest;
    if (before) return before;
    return (await host.digest(report.uuid)).digest;
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
        const d = await f.createDomain(f.host, { name: unique("list"), type, memoryBytes: 16 * MiB });
        const listed = (await f.host.listDomains()).find((x) => x.uuid === d.uuid);
        expect(listed).toMatchObject({ name: d.name, type, memoryBytes: 16 * MiB, state: "running" });
        expect(await f.host.domainInfo(d.domid)).toEqual(listed);
        expect(await f.host.domainInfo(d.uuid)).toEqual(listed);
        expect(await f.host.domainInfo(d.name)).toEqual(listed);
        await expect(f.host.domainInfo("no-such-domain")).rejects.toBeInstanceOf(DomainNotFoundError);
      }));

    it("pauses and unpauses idempotently, destroys and frees memory", () =>
      withFixture(async (f) => {
        const d = await f.createDomain(f.host, { name: unique("state"), type: f.types[0]!, memoryBytes: 16 * MiB });
        await f.host.pause(d.uuid);
        await f.host.pause(d.uuid);
        expect((await f.host.domainInfo(d.uuid)).state).toBe("paused");
        await f.host.unpause(d.uuid);
        await f.host.unpause(d.uuid);
        expect((await f.host.domainInfo(d.uuid)).state).toBe("running");
        const free = (await f.host.hostInfo()).freeMemoryBytes;
        await f.host.destroy(d.uuid);
        await expect(f.host.domainInfo(d.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
        expect((await f.host.hostInfo()).freeMemoryBytes).toBe(free + 16 * MiB);
      }));

    const modes: SaveMode[] = ["suspend", "checkpoint", "live"];
    for (const mode of modes) {
      it(`save (${mode}) and restore on the same and another host keep the digest, for every domain type`, () =>
        withFixture(async (f) => {
          for (const type of f.types) {
            const d = await f.createDomain(f.host, { name: unique(`${mode}-${type}`), type, memoryBytes: 16 * MiB, dirtyPagesPerSec: mode === "live" ? 2000 : 0 });
            const before = mode === "live" ? undefined : (await f.host.digest(d.uuid)).digest;
            const image = new Collector();
            const report = await f.host.save(d.uuid, image, { mode });
            expect(report.bytesWritten).toBe(image.bytes().length);
            expect(report.pagesPerIteration[0]).toBe(4096);
            const want = await imageDigest(f.host, report, before);

            if (mode === "suspend") {
              await expect(f.host.domainInfo(d.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
              const back = await f.host.restore(Readable.from([image.bytes()]));
              expect(back).toMatchObject({ uuid: d.uuid, name: d.name, type, state: "running" });
              expect((await f.host.digest(back.uuid)).digest).toBe(want);
            } else {
              expect((await f.host.domainInfo(d.uuid)).state).toBe("running");
              // A second copy beside the original needs its own identity.
              const copy = await f.host.restore(Readable.from([image.bytes()]), { name: unique("copy"), uuid: crypto.randomUUID(), paused: true });
              expect(copy.state).toBe("paused");
              expect((await f.host.digest(copy.uuid)).digest).toBe(want);
            }
            const other = await f.peer.restore(Readable.from([image.bytes()]), { paused: true });
            expect(other).toMatchObject({ type, memoryBytes: 16 * MiB });
            expect((await f.peer.digest(other.uuid)).digest).toBe(want);
          }
        }));
    }

    it("live-migrates: the source waits for commit, the target runs with the same state", () =>
      withFixture(async (f) => {
        const d = await f.createDomain(f.host, { name: unique("mig"), type: f.types[0]!, memoryBytes: 16 * MiB, dirtyPagesPerSec: 2000 });
        const wire = new PassThrough();
        const [sender, receiver] = await Promise.all([f.host.migrateSend(d.uuid, wire), f.peer.migrateReceive(wire)]);
        expect((await f.host.domainInfo(d.uuid)).state).toBe("paused");
        expect(receiver.domain.state).toBe("paused");
        await receiver.start();
        await sender.commit();
        await expect(f.host.domainInfo(d.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
        expect((await f.peer.domainInfo(d.uuid)).state).toBe("running");
        if (sender.report.digest) {
          await f.peer.pause(d.uuid);
          expect((await f.peer.digest(d.uuid)).digest).toBe(sender.report.digest);
        }
        await expect(sender.commit()).rejects.toBeInstanceOf(XenfleetError);
      }));

    it("an aborted migration resumes the source and removes the target", () =>
      withFixture(async (f) => {
        const d = await f.createDomain(f.host, { name: unique("migab"), type: f.types[0]!, memoryBytes: 16 * MiB });
        const wire = new PassThrough();
        const [sender, receiver] = await Promise.all([f.host.migrateSend(d.uuid, wire), f.peer.migrateReceive(wire)]);
        await receiver.abort();
        await sender.abort();
        expect((await f.host.domainInfo(d.uuid)).state).toBe("running");
        await expect(f.peer.domainInfo(d.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
      }));

    it("a truncated stream fails with a typed error and leaves no domain behind", () =>
      withFixture(async (f) => {
        const d = await f.createDomain(f.host, { name: unique("trunc"), type: f.types[0]!, memoryBytes: 16 * MiB });
        const image = new Collector();
        await f.host.save(d.uuid, image, { mode: "checkpoint" });
        const whole = image.bytes();
        const before = await f.peer.listDomains();
        for (const cut of [10, 200, Math.floor(whole.length / 2), whole.length - 8]) {
          await expect(f.peer.restore(Readable.from([whole.subarray(0, cut)]))).rejects.toBeInstanceOf(XenfleetError);
        }
        expect(await f.peer.listDomains()).toEqual(before);
      }));

    it("an aborted save fails with OperationAbortedError and leaves the domain as it was", () =>
      withFixture(async (f) => {
        const d = await f.createDomain(f.host, { name: unique("abort"), type: f.types[0]!, memoryBytes: 16 * MiB });
        const ac = new AbortController();
        // A sink that aborts the save after the first megabyte.
        const sink = new Collector(() => {
          if (sink.size > MiB) ac.abort();
        });
        await expect(f.host.save(d.uuid, sink, { mode: "suspend", signal: ac.signal })).rejects.toBeInstanceOf(OperationAbortedError);
        expect((await f.host.domainInfo(d.uuid)).state).toBe("running");
      }));
  });
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

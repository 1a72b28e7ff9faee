/**
 * The startup sweep: records left by a worker that died mid-migration are
 * settled by the record, this host's side only, once.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DomainExistsError, SimHost } from "@xenfleet/hypervisor";
import { claimTargetBuild } from "../src/commit.js";
import { MigrationRecord } from "../src/rendezvous.js";
import { sweepMigrations } from "../src/sweep.js";
import { cleanupsAfterEach } from "./helpers/cleanups.js";
import { testRedis } from "@xenfleet/jobs/testing";

const MiB = 2 ** 20;
const cleanups = cleanupsAfterEach();

async function setup() {
  const r = testRedis();
  const dir = await mkdtemp(join(tmpdir(), "xf-sweep-"));
  cleanups.push(r.cleanup, () => rm(dir, { recursive: true, force: true }));
  const host = await SimHost.open(join(dir, "h1"), { name: "h1" });
  const record = (id: string) => new MigrationRecord(r.redis, r.prefix, id);
  const sweep = () => sweepMigrations(r.redis, r.prefix, "h1", { hypervisor: host });
  return { ...r, host, record, sweep };
}

describe("startup sweep of migration records", () => {
  it("destroys a target copy the dead receiver built, deciding the undecided migration aborted", async () => {
    const { host, record, sweep } = await setup();
    const copy = await host.createDomain({ name: "vm", type: "pv", memoryBytes: 4 * MiB, paused: true });
    const rec = record("t-undecided");
    await rec.set({
      source: "h0",
      target: "h1",
      domain: copy.uuid,
      sourceWasRunning: 1,
      ready: 1,
      targetDomid: copy.domid,
    });
    expect(await sweep()).toEqual([
      { migrationId: "t-undecided", side: "target", outcome: "aborted", action: "destroyed" },
    ]);
    expect(await host.listDomains()).toEqual([]);
    expect(await rec.outcome()).toBe("aborted");
    expect((await rec.get()).targetSettled).toBe("1");
    // Settled once: a second sweep does nothing.
    expect(await sweep()).toEqual([]);
  });

  it("destroys a copy whose receiver died between building it and recording its domid", async () => {
    const { host, record, sweep } = await setup();
    const rec = record("t-unrecorded");
    const uuid = "0b4c3e9a-5f1d-4e7a-9c2b-6d8e1f3a5b7c";
    await rec.set({ source: "h0", target: "h1", domain: uuid, sourceWasRunning: 1 });
    await claimTargetBuild(host, rec, uuid);
    await host.createDomain({ name: "vm", type: "pv", uuid, memoryBytes: 4 * MiB, paused: true });
    expect(await sweep()).toEqual([
      { migrationId: "t-unrecorded", side: "target", outcome: "aborted", action: "destroyed" },
    ]);
    expect(await host.listDomains()).toEqual([]);
  });

  it("refuses to build a copy beside a domain with the same uuid, and later leaves that domain alone", async () => {
    const { host, record, sweep } = await setup();
    const resident = await host.createDomain({ name: "vm", type: "pv", memoryBytes: 4 * MiB, paused: true });
    const rec = record("t-clash");
    await rec.set({ source: "h0", target: "h1", domain: resident.uuid, sourceWasRunning: 1 });
    await expect(claimTargetBuild(host, rec, resident.uuid)).rejects.toBeInstanceOf(DomainExistsError);
    expect(await sweep()).toMatchObject([{ side: "target", outcome: "aborted", action: "none" }]);
    expect((await host.domainInfo(resident.uuid)).state).toBe("paused");
  });

  it("starts a committed target copy and says so in the record", async () => {
    const { host, record, sweep } = await setup();
    const copy = await host.createDomain({ name: "vm", type: "pv", memoryBytes: 4 * MiB, paused: true });
    const rec = record("t-committed");
    await rec.set({ target: "h1", domain: copy.uuid, sourceWasRunning: 1, targetDomid: copy.domid });
    await rec.decide("committed");
    expect(await sweep()).toMatchObject([{ side: "target", outcome: "committed", action: "started" }]);
    expect((await host.domainInfo(copy.uuid)).state).toBe("running");
    expect((await rec.get()).running).toBe("1");
  });

  it("resumes a source the dead sender left paused", async () => {
    const { host, record, sweep } = await setup();
    const d = await host.createDomain({ name: "vm", type: "hvm", memoryBytes: 4 * MiB });
    await host.pause(d.uuid);
    const rec = record("s-undecided");
    await rec.set({ source: "h1", domain: d.uuid, sourceWasRunning: 1 });
    expect(await sweep()).toMatchObject([{ side: "source", outcome: "aborted", action: "resumed" }]);
    expect((await host.domainInfo(d.uuid)).state).toBe("running");
    expect((await rec.get()).sourceSettled).toBe("1");
  });

  it("destroys a committed source only once the target confirmed it runs; until then keeps it paused", async () => {
    const { host, record, sweep } = await setup();
    const d = await host.createDomain({ name: "vm", type: "hvm", memoryBytes: 4 * MiB });
    await host.pause(d.uuid);
    const rec = record("s-committed");
    await rec.set({ source: "h1", domain: d.uuid, sourceWasRunning: 1 });
    await rec.decide("committed");
    expect(await sweep()).toMatchObject([{ side: "source", outcome: "committed", action: "kept" }]);
    expect((await host.domainInfo(d.uuid)).state).toBe("paused");
    expect((await rec.get()).sourceSettled).toBeUndefined();
    await rec.set({ running: 1 });
    expect(await sweep()).toMatchObject([{ side: "source", outcome: "committed", action: "destroyed" }]);
    expect(await host.listDomains()).toEqual([]);
  });

  it("leaves records of other hosts and settled sides alone", async () => {
    const { host, record, sweep } = await setup();
    const d = await host.createDomain({ name: "vm", type: "hvm", memoryBytes: 4 * MiB });
    await host.pause(d.uuid);
    await record("other-host").set({ source: "h9", domain: d.uuid, sourceWasRunning: 1 });
    await record("settled").set({ source: "h1", domain: d.uuid, sourceWasRunning: 1, sourceSettled: 1 });
    expect(await sweep()).toEqual([]);
    expect((await host.domainInfo(d.uuid)).state).toBe("paused");
    expect(await record("other-host").outcome()).toBeUndefined();
  });
});

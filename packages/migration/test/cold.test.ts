/**
 * Cold migration in one process: both sides through one store and the real
 * Redis record. The image goes through @xenfleet/image (incremental against
 * the domain's previous image), is verified on restore, and is removed once
 * the outcome is settled.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { saveDomain } from "@xenfleet/transfer";
import { SimHost } from "@xenfleet/hypervisor";
import { listImages } from "@xenfleet/image";
import { LocalStore } from "@xenfleet/store";
import { receiveCold, sendCold } from "../src/cold.js";
import { MigrationFailedError } from "../src/errors.js";
import { MigrationRecord } from "../src/rendezvous.js";
import { cleanupsAfterEach } from "./helpers/cleanups.js";
import { testRedis } from "@xenfleet/jobs/testing";

const MiB = 2 ** 20;
const cleanups = cleanupsAfterEach();

async function setup() {
  const r = testRedis();
  const dir = await mkdtemp(join(tmpdir(), "xf-cold-"));
  cleanups.push(r.cleanup, () => rm(dir, { recursive: true, force: true }));
  const a = await SimHost.open(join(dir, "a"), { totalMemoryBytes: 256 * MiB });
  const b = await SimHost.open(join(dir, "b"), { totalMemoryBytes: 256 * MiB });
  const store = await LocalStore.open(join(dir, "store"));
  return { ...r, a, b, store };
}

describe("cold migration through the image store", () => {
  it("moves a running domain with its memory intact, reusing its previous image's pages, and removes the move's image", async () => {
    const { redis, prefix, a, b, store } = await setup();
    const d = await a.createDomain({ name: "cold-1", type: "hvm", memoryBytes: 32 * MiB });
    const nightly = await saveDomain({ hypervisor: a, store, domain: d.uuid, mode: "checkpoint" });
    const before = (await a.digest(d.uuid)).digest;
    const record = new MigrationRecord(redis, prefix, "cold-1");
    const [sent, received] = await Promise.all([
      sendCold({ hypervisor: a, record, store, domain: d.uuid }),
      receiveCold({ hypervisor: b, record, store, host: "b", memoryBytes: d.memoryBytes }),
    ]);
    // Incremental: the domain did not change since its previous image, so almost nothing is new.
    expect(sent.bytesNew).toBeLessThan(sent.bytesTotal / 10);
    expect(received.started).toBe(true);
    expect(await record.outcome()).toBe("committed");
    expect(await a.listDomains()).toEqual([]);
    const moved = await b.domainInfo(d.uuid);
    expect(moved.state).toBe("running");
    await b.pause(d.uuid);
    expect((await b.digest(d.uuid)).digest).toBe(before);
    // The move's image is gone; the domain's own history is not.
    expect((await listImages(store, { domain: d.uuid })).map((i) => i.id)).toEqual([nightly.imageId]);
  });

  it("keeps a paused domain paused", async () => {
    const { redis, prefix, a, b, store } = await setup();
    const d = await a.createDomain({ name: "cold-2", type: "pv", memoryBytes: 16 * MiB, paused: true });
    const record = new MigrationRecord(redis, prefix, "cold-2");
    const [, received] = await Promise.all([
      sendCold({ hypervisor: a, record, store, domain: d.uuid }),
      receiveCold({ hypervisor: b, record, store, host: "b" }),
    ]);
    expect(received.started).toBe(false);
    expect((await b.domainInfo(d.uuid)).state).toBe("paused");
    expect(await a.listDomains()).toEqual([]);
  });

  it("a target that cannot restore leaves the domain running on the source, once, and no image behind", async () => {
    const { redis, prefix, a, b, store } = await setup();
    const d = await a.createDomain({ name: "cold-3", type: "hvm", memoryBytes: 16 * MiB });
    // No room on the target: the image restore refuses after the image was saved.
    await b.createDomain({ name: "filler", type: "pv", memoryBytes: 248 * MiB });
    const record = new MigrationRecord(redis, prefix, "cold-3");
    const [sent, received] = await Promise.allSettled([
      sendCold({ hypervisor: a, record, store, domain: d.uuid }),
      receiveCold({ hypervisor: b, record, store, host: "b" }),
    ]);
    expect(sent.status).toBe("rejected");
    expect((sent as PromiseRejectedResult).reason).toBeInstanceOf(MigrationFailedError);
    expect(received.status).toBe("rejected");
    expect(await record.outcome()).toBe("aborted");
    expect((await a.domainInfo(d.uuid)).state).toBe("running");
    expect((await b.listDomains()).map((x) => x.name)).toEqual(["filler"]);
    expect(await listImages(store, { domain: d.uuid })).toEqual([]);
  });
});

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { MigrationFailedError } from "../src/errors.js";
import { receiveLive } from "../src/receiver.js";
import { MigrationRecord } from "../src/rendezvous.js";
import { sendLive } from "../src/sender.js";
import { cleanupsAfterEach } from "./helpers/cleanups.js";
import { testRedis } from "@xenfleet/jobs/testing";

const cleanups = cleanupsAfterEach();

async function setup() {
  const r = testRedis();
  const dir = await mkdtemp(join(tmpdir(), "xf-mig-"));
  cleanups.push(r.cleanup, () => rm(dir, { recursive: true, force: true }));
  const a = await SimHost.open(join(dir, "a"));
  const b = await SimHost.open(join(dir, "b"));
  const dom = await a.createDomain({ name: "vm1", type: "pv", memoryBytes: 16 * 2 ** 20, dirtyPagesPerSec: 500 });
  return { ...r, a, b, dom };
}

describe("live migration in one process (sender and receiver over loopback TCP)", () => {
  for (const compression of ["none", "lz4", "zstd"] as const) {
    it(`moves the domain with its memory intact (${compression})`, async () => {
      const { redis, prefix, a, b, dom } = await setup();
      const record = new MigrationRecord(redis, prefix, `m-${compression}`);
      const [recv, sent] = await Promise.all([
        receiveLive({
          hypervisor: b,
          record,
          domainUuid: dom.uuid,
          bind: { host: "127.0.0.1", port: 0 },
          advertise: "127.0.0.1",
        }),
        sendLive({ hypervisor: a, record, domain: dom.uuid, compression }),
      ]);
      expect(sent.outcome).toBe("committed");
      expect(await record.outcome()).toBe("committed");
      expect(await a.listDomains()).toEqual([]);
      const moved = await b.domainInfo(dom.uuid);
      expect(moved.state).toBe("running");
      expect(recv.domain.uuid).toBe(dom.uuid);
      expect(sent.rawBytes).toBe(recv.rawBytes);
      // The memory-digest oracle: the target holds exactly the state the source paused with.
      await b.pause(dom.uuid);
      expect((await b.digest(dom.uuid)).digest).toBe(sent.digest);
      if (compression !== "none") expect(sent.compressionRatio).toBeGreaterThan(1);
      expect(sent.iterations).toBeGreaterThanOrEqual(1);
    });
  }

  it("refuses a sender with a wrong token and keeps the domain on the source", async () => {
    const { redis, prefix, a, b, dom } = await setup();
    const record = new MigrationRecord(redis, prefix, "m-token");
    const recv = receiveLive({
      hypervisor: b,
      record,
      domainUuid: dom.uuid,
      bind: { host: "127.0.0.1", port: 0 },
      advertise: "127.0.0.1",
      tokenTtlMs: 1500,
    });
    const l = await record.waitForListener(5000);
    await record.set({ token: "forged" });
    await expect(sendLive({ hypervisor: a, record, domain: dom.uuid })).rejects.toBeInstanceOf(MigrationFailedError);
    await expect(recv).rejects.toBeInstanceOf(MigrationFailedError);
    expect(l.token).not.toBe("forged");
    expect((await a.domainInfo(dom.uuid)).state).toBe("running");
    expect(await b.listDomains()).toEqual([]);
    expect(await record.outcome()).toBe("aborted");
  });

  it("refuses when the target has no room", async () => {
    const { redis, prefix, b, dom } = await setup();
    const record = new MigrationRecord(redis, prefix, "m-room");
    await expect(
      receiveLive({
        hypervisor: b,
        record,
        domainUuid: dom.uuid,
        memoryBytes: 2 ** 50,
        bind: { host: "127.0.0.1", port: 0 },
        advertise: "127.0.0.1",
      }),
    ).rejects.toMatchObject({ code: "XF_HOST_NO_ROOM" });
  });
});

/**
 * Every wait of a live migration ends, and every end before the commit is an
 * abort written in the migration record, so the other side (and an
 * evacuation watching the record) stops waiting too. The source keeps
 * running throughout. Real Redis, real loopback TCP, sim hosts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { testRedis } from "@xenfleet/jobs/testing";
import { FrameChannel } from "../src/channel.js";
import { MigrationFailedError } from "../src/errors.js";
import { receiveLive } from "../src/receiver.js";
import { MigrationRecord } from "../src/rendezvous.js";
import { sendLive } from "../src/sender.js";
import { STREAM_FLAGS } from "../src/wire/format.js";
import { cleanupsAfterEach } from "./helpers/cleanups.js";

const cleanups = cleanupsAfterEach();
const MiB = 2 ** 20;

async function setup(id: string) {
  const r = testRedis();
  const dir = await mkdtemp(join(tmpdir(), "xf-mig-deadline-"));
  cleanups.push(r.cleanup, () => rm(dir, { recursive: true, force: true }));
  const a = await SimHost.open(join(dir, "a"));
  const b = await SimHost.open(join(dir, "b"));
  const dom = await a.createDomain({ name: "vm1", type: "pv", memoryBytes: 16 * MiB });
  return { a, b, dom, record: new MigrationRecord(r.redis, r.prefix, id) };
}

describe("migration deadlines", () => {
  it("a sender whose receiver never listens records the abort, with the reason; the source keeps running", async () => {
    const { a, dom, record } = await setup("m-no-listener");
    const sent = sendLive({ hypervisor: a, record, domain: dom.uuid, listenerTimeoutMs: 1000 });
    await expect(sent).rejects.toBeInstanceOf(MigrationFailedError);
    await expect(sent).rejects.toThrow(/waiting for the receiver to listen/);
    const fields = await record.get();
    expect(fields.outcome).toBe("aborted");
    expect(fields.reason).toMatch(/waiting for the receiver to listen/);
    expect((await a.domainInfo(dom.uuid)).state).toBe("running");
  });

  it("a sender that cannot connect to the published address records the abort", async () => {
    const { a, dom, record } = await setup("m-refused");
    // A port that was free a moment ago: nothing listens there now.
    const server = createServer().listen(0, "127.0.0.1");
    await new Promise((res) => server.once("listening", res));
    const port = (server.address() as AddressInfo).port;
    await new Promise((res) => server.close(res));
    await record.publishListener({
      address: "127.0.0.1",
      port,
      tls: false,
      token: "t",
      expiresAt: Date.now() + 60_000,
    });
    await expect(sendLive({ hypervisor: a, record, domain: dom.uuid })).rejects.toThrow(/could not connect/);
    expect(await record.outcome()).toBe("aborted");
    expect((await a.domainInfo(dom.uuid)).state).toBe("running");
  });

  it("a receiver that stops taking data mid-stream fails the send, which records the abort and resumes the source", async () => {
    const { a, dom, record } = await setup("m-stall");
    // A receiver that accepts, states flow control in its header, and then never acknowledges anything.
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      new FrameChannel(socket, { flags: STREAM_FLAGS.acks });
    }).listen(0, "127.0.0.1");
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((res) => server.close(res));
    });
    await new Promise((res) => server.once("listening", res));
    await record.publishListener({
      address: "127.0.0.1",
      port: (server.address() as AddressInfo).port,
      tls: false,
      token: "t",
      expiresAt: Date.now() + 60_000,
    });
    const sent = sendLive({ hypervisor: a, record, domain: dom.uuid, window: 256 * 1024, stallTimeoutMs: 1000 });
    await expect(sent).rejects.toThrow(/the receiver acknowledged no data within 1000 ms/);
    expect(await record.outcome()).toBe("aborted");
    expect((await a.domainInfo(dom.uuid)).state).toBe("running");
  });

  it("a receiver whose sender never comes ends when its token expires, and says so", async () => {
    const { b, dom, record } = await setup("m-no-sender");
    const recv = receiveLive({
      hypervisor: b,
      record,
      domainUuid: dom.uuid,
      bind: { host: "127.0.0.1", port: 0 },
      advertise: "127.0.0.1",
      tokenTtlMs: 1000,
    });
    await expect(recv).rejects.toThrow(/no sender connected within 1 s/);
    expect(await record.outcome()).toBe("aborted");
    expect(await b.listDomains()).toEqual([]);
  });

  it("a receiver whose sender goes silent after its HELLO ends after the stall timeout and records the abort", async () => {
    const { b, dom, record } = await setup("m-silent-sender");
    const recv = receiveLive({
      hypervisor: b,
      record,
      domainUuid: dom.uuid,
      bind: { host: "127.0.0.1", port: 0 },
      advertise: "127.0.0.1",
      idleTimeoutMs: 1000,
    });
    const l = await record.waitForListener(5000);
    // A sender that is let in and then sends nothing, as a stopped source worker would.
    const socket = connect(l.port, l.address);
    cleanups.push(async () => void socket.destroy());
    const channel = new FrameChannel(socket, { flags: STREAM_FLAGS.acks });
    await channel.sendControl("hello", {
      migrationId: record.migrationId,
      token: l.token,
      domain: { uuid: dom.uuid, name: dom.name },
      memoryBytes: dom.memoryBytes,
    });
    await expect(recv).rejects.toThrow(/no data from the sender within 1000 ms/);
    expect(await record.outcome()).toBe("aborted");
    expect(await b.listDomains()).toEqual([]);
  });

  it("the sender's error carries the target's own reason (a domain with that uuid already exists there)", async () => {
    const { a, b, dom, record } = await setup("m-twin");
    await b.createDomain({ name: "twin", type: "pv", memoryBytes: 16 * MiB, uuid: dom.uuid });
    const recv = receiveLive({
      hypervisor: b,
      record,
      domainUuid: dom.uuid,
      bind: { host: "127.0.0.1", port: 0 },
      advertise: "127.0.0.1",
    });
    const sent = sendLive({ hypervisor: a, record, domain: dom.uuid });
    await expect(recv).rejects.toThrow(/already exists/);
    await expect(sent).rejects.toThrow(/the target said: a domain with uuid .* already exists/);
    expect(await record.outcome()).toBe("aborted");
    expect((await a.domainInfo(dom.uuid)).state).toBe("running");
    expect((await b.listDomains()).map((d) => d.name)).toEqual(["twin"]);
  });
});

/**
 * A live migration whose network connection drops midway, both hosts alive:
 * a TCP proxy between sender and receiver cuts the link after a random
 * number of bytes (including late: during the final pause, after the last
 * page). Both sides must notice, agree on one outcome, and leave the domain
 * exactly once, running, with its memory; a committed migration leaves it on
 * the target, an aborted one on the source.
 */
import { once } from "node:events";
import { createServer, connect, type Server, type Socket } from "node:net";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { createRedis, type RedisClient } from "@xenfleet/jobs";
import { MigrationRecord, receiveLive, sendLive } from "@xenfleet/migration";
import { checkDomains } from "./invariants.js";
import { CHAOS_SEED, SHARED_REDIS, chaosPrefix, deletePrefix, seededRandom, tempDir } from "./procs.js";

const MiB = 2 ** 20;
const RUNS = Number(process.env.CHAOS_DROPS ?? 6);

/** Forwards to `port`; after `cutAfter` bytes from the sender, destroys both sides. Resolves its own port. */
async function cuttingProxy(
  port: number,
  cutAfter: number,
): Promise<{ port: number; cut: () => boolean; close: () => Promise<void> }> {
  let forwarded = 0;
  let didCut = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => sockets.delete(s));
    }
    const cut = () => {
      didCut = true;
      client.destroy();
      upstream.destroy();
    };
    client.on("data", (chunk: Buffer) => {
      forwarded += chunk.length;
      if (forwarded >= cutAfter) return cut();
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as { port: number }).port,
    cut: () => didCut,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

describe("live migration with the connection cut midway", () => {
  const prefix = chaosPrefix();
  const dir = tempDir();
  const random = seededRandom(CHAOS_SEED + 2);
  let conn: RedisClient;

  beforeAll(() => {
    conn = createRedis(SHARED_REDIS, "producer", "xenfleet-chaos");
  });
  afterAll(async () => {
    await deletePrefix(conn, prefix);
    await conn.quit();
    await rm(dir, { recursive: true, force: true });
  });

  it(`every cut leaves the domain in exactly one place (${RUNS} cuts)`, async () => {
    const a = await SimHost.open(join(dir, "a"), { name: "a", totalMemoryBytes: 256 * MiB });
    const b = await SimHost.open(join(dir, "b"), { name: "b", totalMemoryBytes: 256 * MiB });
    const outcomes: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const d = await a.createDomain({ name: `drop-${i}`, type: i % 2 === 0 ? "pv" : "hvm", memoryBytes: 8 * MiB });
      const digest = (await a.digest(d.uuid)).digest;
      const record = new MigrationRecord(conn, prefix, `drop-${i}`);
      const receiving = receiveLive({
        hypervisor: b,
        record,
        domainUuid: d.uuid,
        bind: { host: "127.0.0.1", port: 0 },
        advertise: "127.0.0.1",
        idleTimeoutMs: 3000,
        commitTimeoutMs: 5000,
      }).then(
        () => "received",
        (e: Error) => `receiver failed: ${e.message}`,
      );
      // Put the proxy in the sender's way: the record tells it where to connect.
      const listener = await record.waitForListener(10_000);
      // An 8 MiB domain is a little over 8 MiB on the wire; cut anywhere up to just past its end.
      const proxy = await cuttingProxy(listener.port, Math.floor(4096 + random() * 9 * MiB));
      await record.set({ port: proxy.port });
      const sending = await sendLive({
        hypervisor: a,
        record,
        domain: d.uuid,
        compression: "none",
        readyTimeoutMs: 5000,
        doneTimeoutMs: 5000,
      }).then(
        (r) => `sent: ${r.outcome}`,
        (e: Error) => `sender failed: ${e.message}`,
      );
      const received = await receiving;
      await proxy.close();
      const outcome = await record.outcome();
      outcomes.push(`drop-${i}: cut=${proxy.cut()} outcome=${outcome} | ${sending} | ${received}`);
      expect(outcome === "committed" || outcome === "aborted").toBe(true);
      // One place: the target if committed, the source if aborted; running, with its memory.
      const where = outcome === "committed" ? join(dir, "b") : join(dir, "a");
      expect(
        await checkDomains([join(dir, "a"), join(dir, "b")], [{ uuid: d.uuid, name: d.name, digest }]),
        outcomes.at(-1),
      ).toEqual([]);
      expect((await (await SimHost.open(where)).listDomains()).some((x) => x.uuid === d.uuid)).toBe(true);
    }
    console.log(JSON.stringify({ chaos: "migrate-drop", seed: CHAOS_SEED, outcomes }));
  });
});

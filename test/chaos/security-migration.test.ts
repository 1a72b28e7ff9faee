/**
 * The migration receiver's door: it listens on the configured address only,
 * lets in only the one-time token issued for this migration, once, before
 * it expires, and with TLS configured speaks nothing else. Clients here are
 * hostile peers speaking the wire protocol directly; the receiver is the
 * real one, with its record in the real Redis.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readFile, rm, writeFile } from "node:fs/promises";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { createRedis, type RedisClient } from "@xenfleet/jobs";
import { FrameChannel, FrameEncoder, MigrationRecord, receiveLive, type Listener } from "@xenfleet/migration";
import { SHARED_REDIS, chaosPrefix, deletePrefix, sleep, tempDir, waitFor } from "./procs.js";

const run = promisify(execFile);
const MiB = 2 ** 20;
const DOMAIN = "5f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b";

let dir: string;
let conn: RedisClient;
let host: SimHost;
const prefix = chaosPrefix();
let tls: { key: string; cert: string; ca: string } | undefined;

beforeAll(async () => {
  dir = tempDir();
  conn = createRedis(SHARED_REDIS, "producer", "xenfleet-chaos");
  host = await SimHost.open(join(dir, "dst"), { name: "dst", totalMemoryBytes: 64 * MiB });
  try {
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "ca.key"),
      "-out",
      join(dir, "ca.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=xenfleet test CA",
    ]);
    await writeFile(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
    await run("openssl", [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "csr.pem"),
      "-subj",
      "/CN=127.0.0.1",
    ]);
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      join(dir, "csr.pem"),
      "-CA",
      join(dir, "ca.pem"),
      "-CAkey",
      join(dir, "ca.key"),
      "-CAcreateserial",
      "-out",
      join(dir, "cert.pem"),
      "-days",
      "1",
      "-extfile",
      join(dir, "ext.cnf"),
    ]);
    tls = {
      key: await readFile(join(dir, "key.pem"), "utf8"),
      cert: await readFile(join(dir, "cert.pem"), "utf8"),
      ca: await readFile(join(dir, "ca.pem"), "utf8"),
    };
  } catch {
    tls = undefined;
  }
});

afterAll(async () => {
  await deletePrefix(conn, prefix);
  await conn.quit();
  await rm(dir, { recursive: true, force: true });
});

/** A receiver for a fresh migration id; resolves its listener once published. */
async function receiver(options: { ttlMs: number; tls?: boolean; signal?: AbortSignal; handshakeTimeoutMs?: number }) {
  const record = new MigrationRecord(conn, prefix, `sec-${randomBytes(4).toString("hex")}`);
  const receiving = receiveLive({
    hypervisor: host,
    record,
    domainUuid: DOMAIN,
    memoryBytes: 4 * MiB,
    bind: { host: "127.0.0.1", port: 0 },
    advertise: "127.0.0.1",
    tokenTtlMs: options.ttlMs,
    idleTimeoutMs: 5000,
    ...(options.tls && tls ? { tls: { key: tls.key, cert: tls.cert } } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.handshakeTimeoutMs ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
  }).then(
    (report) => ({ report }),
    (error: unknown) => ({ error: error as Error }),
  );
  const listener: Listener = await record.waitForListener(10_000);
  return { record, receiving, listener };
}

/** A peer that connects and says HELLO; resolves with what the receiver answered. */
async function hello(
  socket: Socket,
  body: Record<string, unknown>,
): Promise<{ channel: FrameChannel; answer: string }> {
  const channel = new FrameChannel(socket);
  await channel.sendControl("hello", body).catch(() => undefined);
  const answer = await channel.expect(["ready"], 1500).then(
    () => "ready",
    (e: Error) => e.message,
  );
  return { channel, answer };
}

/**
 * The real sender, with the token, still gets in: its HELLO is not refused, so
 * it hears no error back, only no READY within the probe's wait.
 */
async function expectRealSenderGetsIn(listener: Listener, record: { migrationId: string }): Promise<void> {
  const real = await hello(await plain(listener.port), {
    token: listener.token,
    migrationId: record.migrationId,
    domain: { uuid: DOMAIN },
    memoryBytes: 4 * MiB,
  });
  expect(real.answer).toMatch(/no ready frame/);
  real.channel.close(true);
}

function plain(port: number, address = "127.0.0.1"): Promise<Socket> {
  const socket = netConnect(port, address);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

describe("the migration receiver lets in only its one-time token", () => {
  it("refuses a wrong or missing token, keeps waiting, and gives up at expiry", async () => {
    const { record, receiving, listener } = await receiver({ ttlMs: 2500 });
    const wrong = await hello(await plain(listener.port), {
      token: "0".repeat(listener.token.length),
      migrationId: record.migrationId,
      domain: { uuid: DOMAIN },
    });
    expect(wrong.answer).toMatch(/peer aborted/);
    wrong.channel.close();
    const missing = await hello(await plain(listener.port), {
      migrationId: record.migrationId,
      domain: { uuid: DOMAIN },
    });
    expect(missing.answer).toMatch(/peer aborted/);
    missing.channel.close();
    // Expiry: the right token, too late.
    await sleep(2600);
    const late = await plain(listener.port).then(
      (s) =>
        hello(s, { token: listener.token, migrationId: record.migrationId, domain: { uuid: DOMAIN } }).then(
          (r) => r.answer,
        ),
      (e: Error) => e.message,
    );
    expect(late).not.toBe("ready");
    const outcome = await receiving;
    expect("error" in outcome && outcome.error.message).toMatch(/expired/);
    expect(await record.outcome()).toBe("aborted");
    expect(await host.listDomains()).toEqual([]);
  });

  it("accepts the right token once: a second peer with the same token is not let in", async () => {
    const { record, receiving, listener } = await receiver({ ttlMs: 10_000 });
    const body = {
      token: listener.token,
      migrationId: record.migrationId,
      domain: { uuid: DOMAIN },
      memoryBytes: 4 * MiB,
    };
    const first = await hello(await plain(listener.port), body);
    // Let in: no abort (the receiver now waits for data, not for a HELLO).
    expect(first.answer).toMatch(/no ready frame/);
    const second = await plain(listener.port).then(
      (s) => hello(s, body).then((r) => r.answer),
      (e: Error) => e.message,
    );
    expect(second).not.toBe("ready");
    expect(second).not.toMatch(/no ready frame/);
    // The first peer goes away: the receiver fails the transfer, which shows it had let that peer in.
    first.channel.close(true);
    const outcome = await receiving;
    expect("error" in outcome && outcome.error.message).not.toMatch(/expired|token/);
    expect(await host.listDomains()).toEqual([]);
  });

  it("a HELLO naming another domain does not spend the token (regression: token redeemed before the identity check)", async () => {
    const { record, receiving, listener } = await receiver({ ttlMs: 10_000 });
    const stray = await hello(await plain(listener.port), {
      token: listener.token,
      migrationId: record.migrationId,
      domain: { uuid: "00000000-0000-4000-8000-000000000000" },
    });
    expect(stray.answer).toMatch(/peer aborted/);
    stray.channel.close();
    // The real sender, with the same token, still gets in.
    await expectRealSenderGetsIn(listener, record);
    const outcome = await receiving;
    expect("error" in outcome && outcome.error.message).not.toMatch(/expired|token/);
    expect(await host.listDomains()).toEqual([]);
  });

  it("listens on the configured address only", async () => {
    const abort = new AbortController();
    const { receiving, listener } = await receiver({ ttlMs: 10_000, signal: abort.signal });
    // Bound to 127.0.0.1: the same port on another loopback address is closed.
    const elsewhere = await plain(listener.port, "127.0.0.2").then(
      (s) => {
        s.destroy();
        return "connected";
      },
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(elsewhere).toBe("ECONNREFUSED");
    abort.abort();
    await receiving;
  });

  it("with TLS, a plaintext peer gets nothing, an unverified certificate is refused, and a verified peer gets in", async (ctx) => {
    if (tls === undefined) return ctx.skip("openssl could not make test certificates");
    const { record, receiving, listener } = await receiver({ ttlMs: 10_000, tls: true });
    expect(listener.tls).toBe(true);
    const body = {
      token: listener.token,
      migrationId: record.migrationId,
      domain: { uuid: DOMAIN },
      memoryBytes: 4 * MiB,
    };
    const plainPeer = await hello(await plain(listener.port), body);
    expect(plainPeer.answer).not.toMatch(/no ready frame/);
    plainPeer.channel.close(true);
    const untrusted = tlsConnect({ host: "127.0.0.1", port: listener.port });
    const [untrustedError] = (await once(untrusted, "error")) as [Error];
    expect(untrustedError.message).toMatch(/self[- ]signed|unable to (get|verify)|certificate/i);
    const trusted = tlsConnect({ host: "127.0.0.1", port: listener.port, ca: tls.ca });
    await once(trusted, "secureConnect");
    const peer = await hello(trusted, body);
    expect(peer.answer).toMatch(/no ready frame/);
    peer.channel.close(true);
    const outcome = await receiving;
    expect("error" in outcome && outcome.error.message).not.toMatch(/expired/);
    expect(await host.listDomains()).toEqual([]);
  });
});

describe("before HELLO a peer costs the receiver little", () => {
  it("64 unauthenticated connections sending 16 MiB data frames leave RSS within 64 MB of where it started", async () => {
    const abort = new AbortController();
    const { record, receiving, listener } = await receiver({ ttlMs: 60_000, signal: abort.signal });
    // One 16 MiB frame, encoded once and written to every connection (its bytes are not copied per socket).
    const encoder = new FrameEncoder(16 * MiB, 0);
    const header = encoder.header();
    const frame = encoder.data(Buffer.alloc(16 * MiB, 0x5a));
    const start = process.memoryUsage().rss;
    let peak = start;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const sockets = await Promise.all(
        Array.from({ length: 64 }, async () => {
          const socket = netConnect(listener.port, "127.0.0.1");
          socket.on("error", () => undefined).resume();
          await once(socket, "connect").catch(() => undefined);
          socket.write(header);
          for (const b of frame.buffers) socket.write(b);
          return socket;
        }),
      );
      // The receiver closes every one of them (refused frame, or over the cap); none is let in.
      expect(await waitFor(() => sockets.every((s) => s.destroyed), 30_000)).toBe(true);
      peak = Math.max(peak, process.memoryUsage().rss);
    } finally {
      clearInterval(sampler);
    }
    expect(peak - start).toBeLessThan(64 * MiB);
    // The door still works: the real sender, with the token, gets in.
    await expectRealSenderGetsIn(listener, record);
    abort.abort();
    await receiving;
  });

  it("TLS connections that never handshake are closed at the handshake deadline", async (ctx) => {
    if (tls === undefined) return ctx.skip("openssl could not make test certificates");
    const abort = new AbortController();
    const { receiving, listener } = await receiver({
      ttlMs: 60_000,
      tls: true,
      handshakeTimeoutMs: 1000,
      signal: abort.signal,
    });
    const silent = await Promise.all([1, 2, 3].map(() => plain(listener.port)));
    for (const socket of silent) socket.on("error", () => undefined);
    // Well before the token expires (60 s) and the HELLO deadline (10 s): only the handshake deadline closes them.
    const allClosed = await waitFor(() => silent.every((s) => s.destroyed), 5000);
    expect(allClosed).toBe(true);
    abort.abort();
    await receiving;
  });

  it("when the receiver stops, every connection it holds is destroyed", async () => {
    const abort = new AbortController();
    const { receiving, listener } = await receiver({ ttlMs: 60_000, signal: abort.signal });
    const waiting = await Promise.all([1, 2, 3].map(() => plain(listener.port)));
    // Read what the receiver sends (its stream header), so its close is seen.
    for (const socket of waiting) socket.on("error", () => undefined).resume();
    // Peers that connected and said nothing yet (the HELLO deadline is 10 s away).
    await sleep(200);
    expect(waiting.some((s) => s.destroyed)).toBe(false);
    abort.abort();
    const outcome = await receiving;
    expect("error" in outcome).toBe(true);
    const allClosed = await waitFor(() => waiting.every((s) => s.destroyed), 2000);
    expect(allClosed).toBe(true);
  });
});

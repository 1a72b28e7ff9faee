/**
 * The receiving half of a live migration. Checks room, listens, publishes
 * its address and a one-time token in the migration record, lets in the
 * first connection that presents the token (any other is refused and the
 * listener keeps waiting until the token expires), builds the domain paused
 * from the data frames, says READY, and starts the domain on COMMIT. Without
 * a COMMIT the record decides (commit.ts).
 *
 * Before a peer is let in it costs little: it may send only control frames
 * of at most 4 KiB (its HELLO), no more than `maxPendingConnections` peers
 * wait at once (more are closed as they connect), a TLS handshake must end
 * within `handshakeTimeoutMs`, a HELLO must come within 10 s, and when the
 * wait ends every connection but the one let in is destroyed.
 */
import { createServer as netServer, type AddressInfo, type Server, type Socket } from "node:net";
import { PassThrough } from "node:stream";
import { createServer as tlsServer } from "node:tls";
import type { DomainInfo, Hypervisor, MigrationReceiver } from "@xenfleet/hypervisor";
import { FrameChannel } from "./channel.js";
import { claimTargetBuild, RECEIVER_REASON, receiverSettle } from "./commit.js";
import { NoRoomError } from "@xenfleet/transfer";
import { MigrationFailedError, WireFormatError } from "./errors.js";
import type { MigrationRecord, Outcome } from "./rendezvous.js";
import { pumpData } from "./data-pump.js";
import { STREAM_FLAGS } from "./wire/format.js";
import { OneTimeToken } from "./token.js";

export interface ReceiveOptions {
  hypervisor: Hypervisor;
  record: MigrationRecord;
  /** The domain expected (uuid); a HELLO naming another is refused. */
  domainUuid: string;
  /** Memory the domain needs, when known before the HELLO. */
  memoryBytes?: number;
  /** Where to listen; port 0 picks a free one. */
  bind: { host: string; port: number };
  /** The address senders should connect to. */
  advertise: string;
  tls?: { key: string | Buffer; cert: string | Buffer };
  tokenTtlMs?: number;
  /** Connections not yet let in, at most (default 16); more are closed at once. */
  maxPendingConnections?: number;
  /** A TLS handshake not finished by then closes the connection (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Longest silence on the connection before the transfer counts as failed. */
  idleTimeoutMs?: number;
  commitTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface ReceiveReport {
  outcome: Outcome;
  domain: DomainInfo;
  rawBytes: number;
  wireBytes: number;
  seconds: number;
}

export async function receiveLive(o: ReceiveOptions): Promise<ReceiveReport> {
  const started = performance.now();
  const hv = o.hypervisor;
  await checkRoom(o, o.memoryBytes);

  const token = new OneTimeToken(o.tokenTtlMs ?? 60_000);
  const server: Server = o.tls
    ? tlsServer({ key: o.tls.key, cert: o.tls.cert, handshakeTimeout: o.handshakeTimeoutMs ?? 10_000 })
    : netServer();
  // A failed or timed-out handshake: that peer is gone, nothing else to do (without a listener Node logs it).
  server.on("tlsClientError", (_err: Error, socket: Socket) => socket.destroy());
  let channel: FrameChannel;
  let hello: Record<string, unknown>;
  try {
    const port = await listen(server, o.bind);
    await o.record.publishListener({
      address: o.advertise,
      port,
      tls: o.tls !== undefined,
      token: token.value,
      expiresAt: Date.now() + (o.tokenTtlMs ?? 60_000),
    });
    ({ channel, hello } = await acceptOne(server, o, token));
  } catch (err) {
    await o.record.decide("aborted", `${RECEIVER_REASON}${(err as Error).message}`).catch(() => undefined);
    throw err;
  } finally {
    server.close();
  }

  const onAbort = () => channel.close(true);
  o.signal?.addEventListener("abort", onAbort, { once: true });
  let receiver: MigrationReceiver | undefined;
  let rawBytes = 0;
  try {
    await checkRoom(o, typeof hello.memoryBytes === "number" ? hello.memoryBytes : undefined);
    await claimTargetBuild(hv, o.record, o.domainUuid);
    // Small: what waits here counts as taken (acknowledged) but still has to be built after the source paused.
    const data = new PassThrough({ highWaterMark: 256 * 1024 });
    // Destroyed below if the pump fails; the failure is thrown from there, and
    // the build may not be reading yet, which must not crash the process.
    data.on("error", () => {});
    const building = hv.migrateReceive(data, o.signal ? { signal: o.signal } : {});
    // If building fails early, stop pumping: the pump may be waiting for a drain that never comes.
    building.catch(() => channel.close(true));
    try {
      rawBytes = await pumpData(channel, data, o.idleTimeoutMs ?? 30_000);
    } catch (err) {
      data.destroy(err as Error);
      await building.then(
        (r) => r.abort(),
        () => undefined,
      );
      throw err;
    }
    receiver = await building;
    await o.record.set({ ready: 1, targetDomid: receiver.domain.domid });
    await channel.sendControl("ready", { domid: receiver.domain.domid });
  } catch (err) {
    await o.record.decide("aborted", `${RECEIVER_REASON}${(err as Error).message}`).catch(() => undefined);
    if (receiver) await receiverSettle(o.record, receiver, (err as Error).message);
    channel.close(true);
    o.signal?.removeEventListener("abort", onAbort);
    throw err instanceof MigrationFailedError || err instanceof WireFormatError
      ? err
      : new MigrationFailedError(`receive failed: ${(err as Error).message}`, { cause: err });
  }

  let outcome: Outcome;
  try {
    await channel.expect(["commit"], o.commitTimeoutMs ?? 60_000);
    // The sender wrote "committed" before it sent COMMIT.
    await receiver.start();
    outcome = "committed";
    // DONE lets the sender destroy the source; `running` in the record does too, should DONE be lost.
    await Promise.all([channel.sendControl("done").catch(() => undefined), o.record.set({ running: 1 })]);
  } catch (err) {
    outcome = await receiverSettle(o.record, receiver, `no COMMIT: ${(err as Error).message}`);
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
    channel.close();
  }
  if (outcome === "aborted")
    throw new MigrationFailedError("migration aborted before the commit; the received copy was destroyed");
  const info = await hv.domainInfo(receiver.domain.uuid);
  return { outcome, domain: info, rawBytes, wireBytes: 0, seconds: (performance.now() - started) / 1000 };
}

async function checkRoom(o: ReceiveOptions, needed: number | undefined): Promise<void> {
  if (needed === undefined) return;
  const host = await o.hypervisor.hostInfo();
  if (host.freeMemoryBytes < needed) throw new NoRoomError(host.name, needed, host.freeMemoryBytes);
}

function listen(server: Server, bind: { host: string; port: number }): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(bind.port, bind.host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Waits for the first connection whose HELLO carries the token for this
 * migration and domain. Others are answered with ABORT and closed; the wait
 * ends when the token expires.
 */
function acceptOne(
  server: Server,
  o: ReceiveOptions,
  token: OneTimeToken,
): Promise<{ channel: FrameChannel; hello: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stopWatch();
      o.signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new MigrationFailedError(
              `no sender connected within ${Math.round((o.tokenTtlMs ?? 60_000) / 1000)} s (the token expired)`,
            ),
          ),
        ),
      Math.max(0, token.expiresAt - Date.now()),
    );
    const onAbort = () =>
      finish(() => reject(new MigrationFailedError("receive cancelled while waiting for the sender")));
    o.signal?.addEventListener("abort", onAbort, { once: true });
    // A sender that fails before connecting records "aborted"; stop waiting for it then.
    const watch = setInterval(() => {
      o.record.get().then(
        (r) => {
          if (r.outcome === "aborted")
            finish(() =>
              reject(
                new MigrationFailedError(`the sender aborted before connecting: ${r.reason ?? "no reason given"}`),
              ),
            );
        },
        () => undefined,
      );
    }, 500);
    // Every raw connection, TLS or not, until the wait ends: counted for the cap, destroyed at the end.
    const pending = new Set<Socket>();
    let admitted: Socket | undefined;
    const maxPending = o.maxPendingConnections ?? 16;
    const stopWatch = () => {
      clearInterval(watch);
      for (const socket of pending) if (socket !== admitted) socket.destroy();
      pending.clear();
    };
    server.on("connection", (raw: Socket) => {
      if (settled || pending.size >= maxPending) return void raw.destroy();
      pending.add(raw);
      raw.once("close", () => pending.delete(raw));
    });
    server.on(o.tls ? "secureConnection" : "connection", (socket: Socket) => {
      if (settled) return void socket.destroy();
      if (socket.destroyed) return;
      const channel = new FrameChannel(socket, { flags: STREAM_FLAGS.acks, controlOnly: true });
      channel
        .expect(["hello"], 10_000)
        .then(({ body }) => {
          if (settled) throw new MigrationFailedError("migration already connected");
          // Identity first, token last: a HELLO for the wrong migration or
          // domain must not spend the token the real sender still needs.
          if (body.migrationId !== o.record.migrationId)
            throw new MigrationFailedError("HELLO names another migration");
          const domain = body.domain as { uuid?: unknown } | undefined;
          if (domain?.uuid !== o.domainUuid) throw new MigrationFailedError("HELLO names another domain");
          token.redeem(body.token);
          channel.admitData();
          // With TLS the pending set holds the raw socket under this one: the same peer address and port.
          admitted = [...pending].find(
            (raw) => raw.remotePort === socket.remotePort && raw.remoteAddress === socket.remoteAddress,
          );
          finish(() => resolve({ channel, hello: body }));
        })
        .catch((err: Error) => {
          channel.sendControl("abort", { reason: err.message }).catch(() => undefined);
          channel.close();
          setTimeout(() => socket.destroy(), 1000).unref();
        });
    });
  });
}

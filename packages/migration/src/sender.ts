/**
 * The sending half of a live migration. Waits for the receiver's listener in
 * the migration record, connects, presents the one-time token, streams the
 * live save through a FrameSink, then runs the commit handshake (commit.ts).
 *
 * Downtime is measured here, on one clock: from the moment the source paused
 * (the hypervisor's onPaused, or where it has none, the end of the save minus
 * the final pass it reports) until the receiver says DONE (the target runs).
 *
 * The source is destroyed only once the target confirmed it runs (DONE, or
 * `running` in the record when DONE was lost), and after DONE: destroying it
 * (and the sim's digest oracle) is no part of the downtime.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { Hypervisor, LiveOptions, MigrationSender, SaveReport } from "@xenfleet/hypervisor";
import { FrameChannel } from "./channel.js";
import { RECEIVER_REASON, senderAbort, senderDecide } from "./commit.js";
import { MigrationFailedError } from "./errors.js";
import { FrameSink } from "./frame-sink.js";
import type { Listener, MigrationRecord } from "./rendezvous.js";
import { TokenBucket } from "./throttle.js";
import type { Compression } from "@xenfleet/store";
import { STREAM_FLAGS } from "./wire/format.js";

export interface SendOptions {
  hypervisor: Hypervisor;
  record: MigrationRecord;
  /** uuid, name or domid on the source. */
  domain: string | number;
  compression?: Compression;
  /** Bytes per second for this migration (wire bytes). */
  bandwidth?: number;
  /** Limiters shared with other migrations (e.g. the host's link). */
  limiters?: TokenBucket[];
  /** Order at shared limiters, lower first (default: when this send started, so the oldest migration goes first). */
  priority?: number;
  /** Unacknowledged bytes allowed on the connection (default DEFAULT_WINDOW). */
  window?: number;
  live?: LiveOptions;
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /** How long to wait for the receiver to publish its listener (default 60 s); then the migration is aborted. */
  listenerTimeoutMs?: number;
  /** Longest wait for the receiver to take data mid-stream before the migration is aborted (default 30 s). */
  stallTimeoutMs?: number;
  /** How long the receiver may take to finish building the domain after the last byte. */
  readyTimeoutMs?: number;
  doneTimeoutMs?: number;
  /** When DONE was lost: how long to look for the target's `running` in the record before giving up (the source then stays paused). */
  confirmTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: { rawBytes: number; memoryBytes: number }) => void;
}

export interface SendReport {
  outcome: "committed";
  /** Bytes on the wire (headers and frames, both directions' overhead excluded). */
  bytesSent: number;
  /** Bytes of save image carried. */
  rawBytes: number;
  /** rawBytes / frame payload bytes sent; 1 without compression. */
  compressionRatio: number;
  iterations: number;
  pagesPerIteration: number[];
  stopReason?: SaveReport["stopReason"];
  /** Source paused until the target ran; absent when the hypervisor does not say when it paused (Xen). */
  downtimeMs?: number;
  /** The final paused pass alone, as the hypervisor reports it (when it does). */
  finalPassMs?: number;
  seconds: number;
  digest?: string;
}

export async function sendLive(o: SendOptions): Promise<SendReport> {
  const started = performance.now();
  const hv = o.hypervisor;
  try {
    hv.checkLiveOptions(o.live ?? {});
  } catch (err) {
    // Refused before anything started: the receiver learns it from the record.
    await o.record.decide("aborted", (err as Error).message).catch(() => undefined);
    throw err;
  }
  const info = await hv.domainInfo(o.domain);
  await o.record.set({ domain: info.uuid, sourceWasRunning: info.state === "running" ? 1 : 0 });
  let listener: Listener;
  let socket: Socket;
  try {
    listener = await o.record.waitForListener(o.listenerTimeoutMs ?? 60_000, o.signal);
    socket = await connect(listener, o.tls, o.signal);
  } catch (err) {
    // The receiver never listened or cannot be reached: say so in the record, so the receive side stops waiting too.
    await senderAbort(o.record, undefined, (err as Error).message, o.signal).catch(() => undefined);
    throw err;
  }
  const channel = new FrameChannel(socket, { flags: STREAM_FLAGS.acks });
  const onAbort = () => channel.close(true);
  o.signal?.addEventListener("abort", onAbort, { once: true });
  let handle: MigrationSender | undefined;
  try {
    await channel.sendControl("hello", {
      migrationId: o.record.migrationId,
      token: listener.token,
      domain: { uuid: info.uuid, name: info.name },
      memoryBytes: info.memoryBytes,
    });
    // Whether the receiver takes part in flow control is in its stream header.
    await channel.peerHeader(10_000);
    const limiters = [...(o.bandwidth ? [new TokenBucket({ rate: o.bandwidth })] : []), ...(o.limiters ?? [])];
    const sink = new FrameSink(channel, {
      compression: o.compression ?? "none",
      limiters,
      ...(o.window ? { window: o.window } : {}),
      ...(o.stallTimeoutMs ? { stallTimeoutMs: o.stallTimeoutMs } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    sink.priority = o.priority ?? started;
    let pausedAt: number | undefined;
    const onPaused = () => {
      pausedAt = performance.now();
      // A paused domain's final pass goes before every running pre-copy on the shared link.
      sink.priority = -Infinity;
    };
    const progress = o.onProgress
      ? setInterval(() => o.onProgress?.({ rawBytes: sink.rawBytes, memoryBytes: info.memoryBytes }), 500)
      : undefined;
    try {
      handle = await hv.migrateSend(info.uuid, sink, {
        ...precopyOptions(o.live),
        onPaused,
        ...(o.signal ? { signal: o.signal } : {}),
      });
    } catch (err) {
      // The hypervisor has resumed the source; tell the receiver to drop its copy.
      await o.record.decide("aborted", `live save failed: ${(err as Error).message}`).catch(() => undefined);
      throw new MigrationFailedError(`live save failed: ${(err as Error).message}`, { cause: err });
    } finally {
      clearInterval(progress);
    }
    const finalPassMs = handle.report.downtimeMs;
    // Told neither when the source paused nor how long it was paused for,
    // the downtime is unknown: counting from here would leave the final pass out.
    if (pausedAt === undefined && finalPassMs !== undefined) pausedAt = performance.now() - finalPassMs;

    try {
      await channel.expect(["ready"], o.readyTimeoutMs ?? 120_000);
    } catch (err) {
      const h = handle;
      handle = undefined;
      await senderAbort(o.record, h, `no READY from the receiver: ${(err as Error).message}`);
      throw new MigrationFailedError(`receiver did not confirm: ${(err as Error).message}`, { cause: err });
    }
    const h = handle;
    handle = undefined;
    if ((await senderDecide(o.record, h)) === "aborted") {
      throw new MigrationFailedError("the receiver aborted the migration before the commit");
    }
    // Committed: the target will run (via COMMIT, or via the record if COMMIT is lost).
    const runningAt = await channel
      .sendControl("commit")
      .then(() => channel.expect(["done"], o.doneTimeoutMs ?? 30_000))
      .then(
        () => performance.now(),
        () => undefined,
      );
    if (runningAt === undefined) {
      try {
        await o.record.waitForField("running", o.confirmTimeoutMs ?? 600_000, o.signal);
      } catch (err) {
        // The record says committed, so the source must never run again; without
        // word that the target runs, it is kept (paused) rather than destroyed.
        throw new MigrationFailedError(
          `committed, but the target never confirmed it runs; the source stays paused: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    const end = runningAt ?? performance.now();
    await h.commit();
    const payload = Math.max(1, sink.wireBytes - 24 * sink.frames);
    return {
      outcome: "committed",
      bytesSent: channel.wireBytesOut,
      rawBytes: sink.rawBytes,
      compressionRatio: sink.rawBytes / payload,
      iterations: h.report.iterations,
      pagesPerIteration: h.report.pagesPerIteration,
      ...(h.report.stopReason ? { stopReason: h.report.stopReason } : {}),
      ...(pausedAt !== undefined ? { downtimeMs: end - pausedAt } : {}),
      ...(finalPassMs !== undefined ? { finalPassMs } : {}),
      seconds: (performance.now() - started) / 1000,
      ...(h.report.digest ? { digest: h.report.digest } : {}),
    };
  } catch (err) {
    // Before the commit every failure is an abort (first writer wins, so a decided outcome stands).
    await senderAbort(o.record, handle, (err as Error).message, o.signal).catch(() => undefined);
    throw await withTargetReason(o.record, err as Error);
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
    channel.close();
  }
}

/**
 * The receiver records why it gave up before it closes the connection; the
 * sender only sees the connection close. Its reason goes into the error, so
 * the operator reads "a domain with uuid … already exists" and not only
 * "peer closed the connection".
 */
async function withTargetReason(record: MigrationRecord, err: Error): Promise<Error> {
  const reason = await record
    .get()
    .then((r) => r.reason)
    .catch(() => undefined);
  const said = reason?.startsWith(RECEIVER_REASON) ? reason.slice(RECEIVER_REASON.length) : undefined;
  if (said === undefined || err.message.includes(said)) return err;
  return new MigrationFailedError(`${err.message}; the target said: ${said}`, { cause: err });
}

function connect(l: Listener, tls: SendOptions["tls"], signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket: Socket = l.tls
      ? tlsConnect({
          host: l.address,
          port: l.port,
          ...(tls?.ca ? { ca: tls.ca } : {}),
          rejectUnauthorized: tls?.rejectUnauthorized ?? true,
          ...(signal ? { signal } : {}),
        })
      : netConnect({ host: l.address, port: l.port, ...(signal ? { signal } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new MigrationFailedError(`could not connect to ${l.address}:${l.port} within 10 s`));
    }, 10_000);
    socket.once(l.tls ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(new MigrationFailedError(`could not connect to ${l.address}:${l.port}: ${err.message}`, { cause: err }));
    });
  });
}

/** Share of the downtime target given to the final paused pass; the rest covers the target finishing its build and the handshake. */
export const FINAL_PASS_SHARE = 0.5;

/**
 * What the hypervisor's pre-copy loop is asked for. `maxDowntimeMs` is the
 * whole downtime the operator accepts (paused on the source until running on
 * the target), while the hypervisor's own figure bounds only the final pass,
 * so the pass gets a share of it. Pre-copy may run more rounds than libxc's 5
 * (up to 30): the downtime target and the timeout decide when to stop.
 */
export function precopyOptions(live: LiveOptions = {}): LiveOptions {
  return {
    ...live,
    maxIterations: live.maxIterations ?? 30,
    maxDowntimeMs: Math.max(1, Math.round((live.maxDowntimeMs ?? 300) * FINAL_PASS_SHARE)),
  };
}

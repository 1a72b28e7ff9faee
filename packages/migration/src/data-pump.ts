/**
 * The data phase of a live migration's receiving side: data frames from the
 * channel into the domain builder's input, acknowledged under flow control,
 * until END, whose byte count must match what arrived.
 *
 * Acks are coalesced: one for each ACK_BYTES taken, and one whenever no
 * further frame is waiting, so a sender held back by its window (whatever
 * its size) always hears of everything taken, while a receiver that keeps
 * up sends a few acks per MiB instead of one per frame.
 */
import type { PassThrough } from "node:stream";
import type { FrameChannel } from "./channel.js";
import { MigrationFailedError, WireFormatError } from "./errors.js";
import { withTimeout } from "./timeout.js";

/** Data bytes taken after which an ack goes out even while frames are waiting. */
export const ACK_BYTES = 1024 * 1024;

/** Moves data frames into the domain builder until END; returns the raw bytes carried. */
export async function pumpData(channel: FrameChannel, data: PassThrough, idleMs: number): Promise<number> {
  let raw = 0;
  let acked = 0;
  for (;;) {
    const f = await withTimeout(channel.next(), idleMs, "no data from the sender");
    if (f.type === "data") {
      raw += f.payload.length;
      if (!data.write(f.payload)) await drained(data);
      if (channel.flowControl && (raw - acked >= ACK_BYTES || channel.queuedFrames === 0)) {
        acked = raw;
        await channel.sendControl("ack", { rawBytes: raw });
      }
      continue;
    }
    if (f.type === "end") {
      const body = JSON.parse(f.payload.toString("utf8")) as { rawBytes?: unknown };
      if (body.rawBytes !== raw)
        throw new WireFormatError("truncated", 0, `END says ${String(body.rawBytes)} bytes, ${raw} arrived`);
      if (channel.flowControl && raw > acked) await channel.sendControl("ack", { rawBytes: raw });
      data.end();
      return raw;
    }
    if (f.type === "abort")
      throw new MigrationFailedError(`sender aborted: ${f.payload.toString("utf8").slice(0, 200)}`);
    throw new WireFormatError("unexpected-frame", 0, `${f.type} frame during the data phase`);
  }
}

function drained(s: PassThrough): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      s.off("drain", onDrain);
      s.off("close", onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new MigrationFailedError("domain builder stopped reading"));
    s.on("drain", onDrain);
    s.on("close", onClose);
  });
}

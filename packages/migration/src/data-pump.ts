/**
 * The data phase of a live migration's receiving side: data frames from the
 * channel into the domain builder's input, acknowledged under flow control,
 * until END, whose byte count must match what arrived.
 */
import type { PassThrough } from "node:stream";
import type { FrameChannel } from "./channel.js";
import { MigrationFailedError, WireFormatError } from "./errors.js";
import { withTimeout } from "./timeout.js";

/** Moves data frames into the domain builder until END; returns the raw bytes carried. */
export async function pumpData(channel: FrameChannel, data: PassThrough, idleMs: number): Promise<number> {
  let raw = 0;
  for (;;) {
    const f = await withTimeout(channel.next(), idleMs, "no data from the sender");
    if (f.type === "data") {
      raw += f.payload.length;
      if (!data.write(f.payload)) await drained(data);
      if (channel.flowControl) await channel.sendControl("ack", { rawBytes: raw });
      continue;
    }
    if (f.type === "end") {
      const body = JSON.parse(f.payload.toString("utf8")) as { rawBytes?: unknown };
      if (body.rawBytes !== raw)
        throw new WireFormatError("truncated", 0, `END says ${String(body.rawBytes)} bytes, ${raw} arrived`);
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

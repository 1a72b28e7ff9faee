/**
 * Flow control over a real loopback connection: a sender never has more than
 * its window of data the receiver has not acknowledged, and a peer that
 * does not state the flag is never waited for.
 */
import { once } from "node:events";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { PassThrough } from "node:stream";
import { finished } from "node:stream/promises";
import { afterEach, describe, expect, it } from "vitest";
import { FrameChannel } from "../src/channel.js";
import { FrameSink } from "../src/frame-sink.js";
import { pumpData } from "../src/data-pump.js";
import { STREAM_FLAGS } from "../src/wire/format.js";

const KiB = 1024;
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const client = connect((server.address() as AddressInfo).port, "127.0.0.1");
  const [[peer]] = await Promise.all([accepted, once(client, "connect")]);
  server.close();
  sockets.push(client, peer);
  return [client, peer];
}

/** Writes `frames` chunks of 64 KiB into the sink and ends it. */
async function writeAll(sink: FrameSink, frames: number): Promise<void> {
  for (let i = 0; i < frames; i++) if (!sink.write(Buffer.alloc(64 * KiB, i))) await once(sink, "drain");
  sink.end();
  await finished(sink);
}

describe("flow control", () => {
  it("keeps at most a window of unacknowledged data on the wire", async () => {
    const [a, b] = await socketPair();
    const sender = new FrameChannel(a, { flags: STREAM_FLAGS.acks });
    const receiver = new FrameChannel(b, { flags: STREAM_FLAGS.acks });
    await sender.peerHeader(5000);
    expect(sender.flowControl).toBe(true);
    const sink = new FrameSink(sender, { compression: "none", frameBytes: 64 * KiB, window: 256 * KiB });
    const writing = writeAll(sink, 16);
    let raw = 0;
    for (let i = 0; i < 4; i++) {
      const f = await receiver.next();
      expect(f.type).toBe("data");
      raw += f.payload.length;
    }
    // Time to send more if the window did not hold it back.
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.rawBytes).toBe(256 * KiB);
    for (;;) {
      await receiver.sendControl("ack", { rawBytes: raw });
      const f = await receiver.next();
      if (f.type === "end") break;
      raw += f.payload.length;
    }
    await writing;
    expect(raw).toBe(16 * 64 * KiB);
  });

  it("never waits for a peer that does not state the flag", async () => {
    const [a, b] = await socketPair();
    const sender = new FrameChannel(a, { flags: STREAM_FLAGS.acks });
    const receiver = new FrameChannel(b);
    await sender.peerHeader(5000);
    expect(sender.flowControl).toBe(false);
    const sink = new FrameSink(sender, { compression: "none", frameBytes: 64 * KiB, window: 64 * KiB });
    const writing = writeAll(sink, 16);
    let raw = 0;
    for (;;) {
      const f = await receiver.next();
      if (f.type === "end") break;
      raw += f.payload.length;
    }
    await writing;
    expect(raw).toBe(16 * 64 * KiB);
  });

  it.each([
    // A window of one frame: every frame needs its ack before the next is sent.
    [64 * KiB, 64],
    // Frames waiting together are acknowledged together.
    [4 * 1024 * KiB, 63],
  ])(
    "the receiver's pump, under a window of %i bytes, never stalls the sender and sends at most %i acks for 64 frames",
    async (window, mostAcks) => {
      const [a, b] = await socketPair();
      const sender = new FrameChannel(a, { flags: STREAM_FLAGS.acks });
      const receiver = new FrameChannel(b, { flags: STREAM_FLAGS.acks });
      await Promise.all([sender.peerHeader(5000), receiver.peerHeader(5000)]);
      const acks: number[] = [];
      const sendControl = receiver.sendControl.bind(receiver);
      receiver.sendControl = (type, body) => {
        if (type === "ack") acks.push((body as { rawBytes: number }).rawBytes);
        return sendControl(type, body);
      };
      const frames = 64;
      const writing = writeAll(new FrameSink(sender, { compression: "none", frameBytes: 64 * KiB, window }), frames);
      // Frames pile up before the pump starts, as when the domain builder is busy.
      while (receiver.queuedFrames < Math.min(8, window / (64 * KiB))) await new Promise((r) => setTimeout(r, 10));
      const data = new PassThrough();
      data.resume();
      expect(await pumpData(receiver, data, 10_000)).toBe(frames * 64 * KiB);
      await writing;
      expect(acks.length).toBeLessThanOrEqual(mostAcks);
      expect(acks.at(-1)).toBe(frames * 64 * KiB);
    },
  );
});

/**
 * The live migration channel alone, no hypervisor: the sending side's
 * FrameSink (frames of 256 KiB, BLAKE3 checksums, flow control with its
 * window) over a FrameChannel, TCP on loopback, the receiving side's
 * FrameChannel and data pump (checksums checked, acks sent) into a sink
 * that drops the bytes. Against it, in the same run, a plain socket
 * carrying the same payload bytes from the same buffers. The two take turns,
 * ROUNDS times each; figures are medians. Prints one JSON line.
 *
 * Targets (issue 24): channel >= 1.5 GB/s and >= 0.6x the plain socket.
 *
 * Options (env): BENCH_WIRE_MIB (payload per run, default 1024),
 * BENCH_WIRE_ROUNDS (5), BENCH_WIRE_COMPRESS (none).
 */
import { randomBytes } from "node:crypto";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { PassThrough, type Writable } from "node:stream";
import { FrameChannel, FrameSink, pumpData, wire } from "@xenfleet/migration";
import { isCompression } from "@xenfleet/store";

const MiB = 1024 * 1024;
const TOTAL = Number(process.env.BENCH_WIRE_MIB ?? 1024) * MiB;
const ROUNDS = Number(process.env.BENCH_WIRE_ROUNDS ?? 5);
const COMPRESS = process.env.BENCH_WIRE_COMPRESS ?? "none";
/** What a save writes at a time into the sink (the sim writes a PAGE_DATA record's worth). */
const WRITE_BYTES = 1 * MiB;

const round = (n: number, digits = 3) => Number(n.toFixed(digits));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** 64 MiB of payload, half random and half text-like, reused for every write. */
function makePayload(): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < 64; i++) parts.push(i % 2 === 0 ? randomBytes(MiB) : Buffer.alloc(MiB, `page ${i} of text `));
  return parts;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function connectedPair(): Promise<{ client: Socket; server: Socket; close: () => void }> {
  const srv = createServer();
  const port = await listen(srv);
  const accepted = new Promise<Socket>((resolve) => srv.once("connection", resolve));
  const client = connect(port, "127.0.0.1");
  await new Promise<void>((resolve) => client.once("connect", resolve));
  const server = await accepted;
  return { client, server, close: () => srv.close() };
}

/** Writes `total` bytes of `payload` to a Writable, honouring its backpressure. */
async function writeAll(sink: Writable, payload: Buffer[], total: number): Promise<void> {
  for (let sent = 0, i = 0; sent < total; i++) {
    const chunk = payload[i % payload.length]!.subarray(0, Math.min(WRITE_BYTES, total - sent));
    sent += chunk.length;
    if (!sink.write(chunk)) await new Promise((resolve) => sink.once("drain", resolve));
  }
  await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** Seconds to carry `total` payload bytes through the migration channel. */
async function channelRun(payload: Buffer[]): Promise<number> {
  const { client, server, close } = await connectedPair();
  const sender = new FrameChannel(client, { flags: wire.STREAM_FLAGS.acks });
  const receiver = new FrameChannel(server, { flags: wire.STREAM_FLAGS.acks });
  await Promise.all([sender.peerHeader(5000), receiver.peerHeader(5000)]);
  if (!isCompression(COMPRESS)) throw new Error(`BENCH_WIRE_COMPRESS: ${COMPRESS}`);
  const started = performance.now();
  const data = new PassThrough({ highWaterMark: 256 * 1024 });
  data.resume(); // the builder: takes every byte at once
  const received = pumpData(receiver, data, 30_000);
  await writeAll(new FrameSink(sender, { compression: COMPRESS }), payload, TOTAL);
  const raw = await received;
  const seconds = (performance.now() - started) / 1000;
  if (raw !== TOTAL) throw new Error(`channel carried ${raw} of ${TOTAL} bytes`);
  sender.close(true);
  receiver.close(true);
  close();
  return seconds;
}

/** Seconds to carry the same bytes through a plain socket. */
async function plainRun(payload: Buffer[]): Promise<number> {
  const { client, server, close } = await connectedPair();
  client.setNoDelay(true);
  const started = performance.now();
  let got = 0;
  const done = new Promise<void>((resolve) => {
    server.on("data", (b: Buffer) => {
      got += b.length;
      if (got >= TOTAL) resolve();
    });
  });
  await writeAll(client, payload, TOTAL);
  await done;
  const seconds = (performance.now() - started) / 1000;
  client.destroy();
  server.destroy();
  close();
  return seconds;
}

async function main(): Promise<void> {
  const payload = makePayload();
  const channel: number[] = [];
  const plain: number[] = [];
  await channelRun(payload); // warm-up: JIT, socket buffers
  for (let i = 0; i < ROUNDS; i++) {
    plain.push(await plainRun(payload));
    channel.push(await channelRun(payload));
  }
  const ch = median(channel);
  const pl = median(plain);
  const result = {
    bench: "wire",
    payloadBytes: TOTAL,
    rounds: ROUNDS,
    compression: COMPRESS,
    seconds: { channel: round(ch), plainSocket: round(pl) },
    allSeconds: { channel: channel.map((x) => round(x)), plainSocket: plain.map((x) => round(x)) },
    gbPerSecond: { channel: round(TOTAL / ch / 1e9), plainSocket: round(TOTAL / pl / 1e9) },
    ratios: { channelVsPlainThroughput: round(pl / ch) },
    targets: { channelGbPerSecond: TOTAL / ch / 1e9 >= 1.5, channelVsPlain: pl / ch >= 0.6 },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();

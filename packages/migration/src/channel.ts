/**
 * Frames over one TCP (or TLS) connection: writes honour the socket's
 * backpressure, reads decode with FrameDecoder and queue a few frames before
 * pausing the socket. A closed or failed connection rejects whoever waits.
 *
 * Flow control (STREAM_FLAGS.acks, when both headers state it): the channel
 * consumes the peer's ack frames itself and keeps the highest count, so a
 * sender can wait for its window without reading the connection.
 */
import type { Socket } from "node:net";
import { MigrationFailedError, WireFormatError } from "./errors.js";
import { withTimeout } from "./timeout.js";
import { FrameDecoder } from "./wire/decoder.js";
import { type EncodedFrame, FrameEncoder } from "./wire/encoder.js";
import { DEFAULT_MAX_FRAME, type Frame, type FrameType, type StreamHeader, STREAM_FLAGS } from "./wire/format.js";

const READ_AHEAD_FRAMES = 8;

export class FrameChannel {
  readonly encoder: FrameEncoder;
  private readonly decoder: FrameDecoder;
  private readonly frames: Frame[] = [];
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  /** Bytes written to the socket, stream header included. */
  wireBytesOut = 0;
  /** The highest data byte count the peer acknowledged. */
  acked = 0;
  private ackWaiters: Array<{ bytes: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private headerWaiters: Array<{ resolve: (h: StreamHeader) => void; reject: (e: Error) => void }> = [];

  constructor(
    readonly socket: Socket,
    options: {
      maxFrame?: number;
      flags?: number;
      /** Read only control frames until admitData(): a peer not yet authenticated cannot make us buffer data. */
      controlOnly?: boolean;
    } = {},
  ) {
    this.decoder = new FrameDecoder({ controlOnly: options.controlOnly ?? false });
    this.encoder = new FrameEncoder(options.maxFrame ?? DEFAULT_MAX_FRAME, options.flags ?? 0);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => {
      try {
        this.decoder.end();
        this.fail(new MigrationFailedError("peer closed the connection"));
      } catch (err) {
        this.fail(err as Error);
      }
    });
    socket.on("error", (err) =>
      this.fail(new MigrationFailedError(`connection failed: ${err.message}`, { cause: err })),
    );
    socket.on("close", () => this.fail(new MigrationFailedError("connection closed")));
    const header = this.encoder.header();
    this.wireBytesOut += header.length;
    socket.write(header);
  }

  /** The peer is authenticated: its data frames are read from now on. */
  admitData(): void {
    this.decoder.admitData();
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  /** Frames decoded and not yet taken with next(). */
  get queuedFrames(): number {
    return this.frames.length;
  }

  /** Both sides stated STREAM_FLAGS.acks (false until the peer's header arrived). */
  get flowControl(): boolean {
    const peer = this.decoder.header?.flags ?? 0;
    return (this.encoder.flags & peer & STREAM_FLAGS.acks) !== 0;
  }

  /** The peer's stream header, once it has arrived. */
  peerHeader(timeoutMs: number): Promise<StreamHeader> {
    const h = this.decoder.header;
    if (h) return Promise.resolve(h);
    if (this.failure) return Promise.reject(this.failure);
    return withTimeout(
      new Promise((resolve, reject) => this.headerWaiters.push({ resolve, reject })),
      timeoutMs,
      "no stream header from the peer",
    );
  }

  /** Resolves once the peer acknowledged at least `bytes` data bytes. */
  waitForAck(bytes: number): Promise<void> {
    if (this.acked >= bytes) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.ackWaiters.push({ bytes, resolve, reject }));
  }

  /** Writes a frame; resolves once the socket accepted it (drained if it had to). */
  async send(frame: EncodedFrame): Promise<void> {
    if (this.failure) throw this.failure;
    let ok = true;
    for (const b of frame.buffers) ok = this.socket.write(b);
    this.wireBytesOut += frame.wireBytes;
    if (!ok) await this.drained();
  }

  sendControl(type: Exclude<FrameType, "data">, body: object = {}): Promise<void> {
    return this.send(this.encoder.control(type, body));
  }

  /** The next frame from the peer. */
  next(): Promise<Frame> {
    const f = this.frames.shift();
    if (f) {
      if (this.frames.length < READ_AHEAD_FRAMES && this.socket.isPaused()) this.socket.resume();
      return Promise.resolve(f);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** The next frame, which must be a control frame of one of `types` (an abort frame becomes an error). */
  async expect<T extends FrameType>(
    types: readonly T[],
    timeoutMs: number,
  ): Promise<{ type: T; body: Record<string, unknown> }> {
    const f = await withTimeout(this.next(), timeoutMs, `no ${types.join("/")} frame`);
    const body = parseControl(f);
    if (f.type === "abort") throw new MigrationFailedError(`peer aborted: ${String(body.reason ?? "no reason given")}`);
    if (!(types as readonly string[]).includes(f.type))
      throw new WireFormatError("unexpected-frame", 0, `${f.type} frame where ${types.join("/")} was due`);
    return { type: f.type as T, body };
  }

  /** Ends our side; the socket closes once the peer ends too (or now, if `force`). */
  close(force = false): void {
    if (force) this.socket.destroy();
    else this.socket.end();
    this.fail(new MigrationFailedError("connection closed"));
  }

  private onData(chunk: Buffer): void {
    let got: Frame[];
    try {
      got = this.decoder.push(chunk);
    } catch (err) {
      this.fail(err as Error);
      this.socket.destroy();
      return;
    }
    const h = this.decoder.header;
    if (h) for (const w of this.headerWaiters.splice(0)) w.resolve(h);
    for (const f of got) {
      if (f.type === "ack") {
        this.onAck(f);
        continue;
      }
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(f);
      } else this.frames.push(f);
    }
    if (this.frames.length >= READ_AHEAD_FRAMES) this.socket.pause();
  }

  private onAck(f: Frame): void {
    let bytes: unknown;
    try {
      bytes = parseControl(f).rawBytes;
      if (typeof bytes !== "number" || !Number.isSafeInteger(bytes) || bytes < 0)
        throw new WireFormatError("bad-control", 0, `ack frame ${f.seq} without a byte count`);
    } catch (err) {
      this.fail(err as Error);
      this.socket.destroy();
      return;
    }
    if (bytes <= this.acked) return;
    this.acked = bytes;
    this.ackWaiters = this.ackWaiters.filter((w) => {
      if (w.bytes > this.acked) return true;
      w.resolve();
      return false;
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(this.failure);
    }
    for (const w of this.ackWaiters.splice(0)) w.reject(this.failure);
    for (const w of this.headerWaiters.splice(0)) w.reject(this.failure);
  }

  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        this.socket.off("drain", onDrain);
        this.socket.off("close", onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(this.failure ?? new MigrationFailedError("connection closed"));
      this.socket.on("drain", onDrain);
      this.socket.on("close", onClose);
    });
  }
}

/** A control frame's JSON body; malformed JSON is a wire error. */
export function parseControl(f: Frame): Record<string, unknown> {
  if (f.type === "data") throw new WireFormatError("unexpected-frame", 0, "data frame where a control frame was due");
  try {
    const v: unknown = JSON.parse(f.payload.toString("utf8"));
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new WireFormatError("bad-control", 0, `${f.type} frame ${f.seq} does not hold a JSON object`);
}

/**
 * Frames over one TCP (or TLS) connection: writes honour the socket's
 * backpressure, reads decode with FrameDecoder and queue a few frames before
 * pausing the socket. A closed or failed connection rejects whoever waits.
 */
import type { Socket } from "node:net";
import { MigrationFailedError, WireFormatError } from "./errors.js";
import { FrameDecoder } from "./wire/decoder.js";
import { type EncodedFrame, FrameEncoder } from "./wire/encoder.js";
import { DEFAULT_MAX_FRAME, type Frame, type FrameType } from "./wire/format.js";

const READ_AHEAD_FRAMES = 8;

export class FrameChannel {
  readonly encoder: FrameEncoder;
  private readonly decoder = new FrameDecoder();
  private readonly frames: Frame[] = [];
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  /** Bytes written to the socket, stream header included. */
  wireBytesOut = 0;

  constructor(
    readonly socket: Socket,
    maxFrame = DEFAULT_MAX_FRAME,
  ) {
    this.encoder = new FrameEncoder(maxFrame);
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
    socket.on("error", (err) => this.fail(new MigrationFailedError(`connection failed: ${err.message}`, { cause: err })));
    socket.on("close", () => this.fail(new MigrationFailedError("connection closed")));
    const header = this.encoder.header();
    this.wireBytesOut += header.length;
    socket.write(header);
  }

  get closed(): boolean {
    return this.failure !== undefined;
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
  async expect<T extends FrameType>(types: readonly T[], timeoutMs: number): Promise<{ type: T; body: Record<string, unknown> }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new MigrationFailedError(`no ${types.join("/")} frame within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const f = await Promise.race([this.next(), timeout]);
      const body = parseControl(f);
      if (f.type === "abort") throw new MigrationFailedError(`peer aborted: ${String(body.reason ?? "no reason given")}`);
      if (!(types as readonly string[]).includes(f.type)) throw new WireFormatError("unexpected-frame", 0, `${f.type} frame where ${types.join("/")} was due`);
      return { type: f.type as T, body };
    } finally {
      clearTimeout(timer);
    }
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
    for (const f of got) {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(f);
      } else this.frames.push(f);
    }
    if (this.frames.length >= READ_AHEAD_FRAMES) this.socket.pause();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(this.failure);
    }
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

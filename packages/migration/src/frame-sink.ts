/**
 * The Writable the hypervisor's live save writes into on the sending side.
 * It gathers the image into frames of up to `frameBytes`, compresses each
 * (when that helps), waits on the bandwidth limiters, and calls back only
 * once the socket took the frame: the rate the hypervisor measures on this
 * sink for its convergence decision is the real rate of the connection.
 * Ending the sink sends the END frame; the connection stays open for the
 * commit handshake.
 *
 * Under flow control the sink also keeps at most `window` data bytes that the
 * receiver has not acknowledged. Socket buffers alone let a sender run tens of
 * MiB ahead of a slower receiver (Linux grows a loopback receive buffer to
 * 32 MiB); all of that would have to drain after the source paused, and the
 * rate the sink reports would be the kernel's, not the receiver's.
 */
import { Writable } from "node:stream";
import type { FrameChannel } from "./channel.js";
import type { TokenBucket } from "./throttle.js";
import type { Compression } from "@xenfleet/store";
import { withTimeout } from "./timeout.js";

export interface FrameSinkOptions {
  compression: Compression;
  /** Raw bytes per data frame (default 256 KiB, at most the channel's maxFrame). */
  frameBytes?: number;
  /** Every limiter is paid for every frame: per-migration and per-host limits compose. */
  limiters?: TokenBucket[];
  /** Unacknowledged data bytes allowed when the channel has flow control (default 4 MiB). */
  window?: number;
  /** Longest wait for the receiver to acknowledge or the socket to drain (default 30 s): a stalled receiver fails the send. */
  stallTimeoutMs?: number;
  signal?: AbortSignal;
}

export const DEFAULT_WINDOW = 4 * 2 ** 20;
export const DEFAULT_STALL_MS = 30_000;

export class FrameSink extends Writable {
  rawBytes = 0;
  wireBytes = 0;
  frames = 0;
  /** Order at the shared limiters (lower goes first); a paused domain's final pass should lower it. */
  priority = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly frameBytes: number;

  constructor(
    private readonly channel: FrameChannel,
    private readonly options: FrameSinkOptions,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.frameBytes = Math.min(options.frameBytes ?? 256 * 1024, channel.encoder.maxFrame);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.flush(false).then(() => callback(), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.flush(true)
      .then(() => this.channel.sendControl("end", { rawBytes: this.rawBytes, frames: this.frames }))
      .then(() => callback(), callback);
  }

  private async flush(all: boolean): Promise<void> {
    while (this.pendingBytes >= this.frameBytes || (all && this.pendingBytes > 0)) {
      const raw = this.takePending(Math.min(this.frameBytes, this.pendingBytes));
      const stall = this.options.stallTimeoutMs ?? DEFAULT_STALL_MS;
      if (this.channel.flowControl)
        await withTimeout(
          this.channel.waitForAck(this.rawBytes + raw.length - (this.options.window ?? DEFAULT_WINDOW)),
          stall,
          "the receiver acknowledged no data",
        );
      const frame = this.channel.encoder.data(raw, this.options.compression);
      for (const limiter of this.options.limiters ?? [])
        await limiter.take(frame.wireBytes, this.options.signal, this.priority);
      await withTimeout(this.channel.send(frame), stall, "the receiver took no data");
      this.rawBytes += raw.length;
      this.wireBytes += frame.wireBytes;
      this.frames++;
    }
  }

  private takePending(n: number): Buffer {
    const first = this.pending[0]!;
    if (first.length === n) {
      this.pending.shift();
      this.pendingBytes -= n;
      return first;
    }
    if (first.length > n) {
      this.pending[0] = first.subarray(n);
      this.pendingBytes -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.pending[0]!;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.pending.shift();
      else this.pending[0] = c.subarray(k);
    }
    this.pendingBytes -= n;
    return out;
  }
}

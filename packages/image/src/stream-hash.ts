/**
 * The whole-stream SHA-256, computed on a worker thread: SHA-256 runs at
 * about 1.4 GB/s here, slower than reading, parsing and BLAKE3-hashing the
 * pages together, so on the main thread it would set the pace of an import.
 *
 * Bytes go to the worker through one shared ring buffer (RING_BYTES),
 * allocated once: each chunk is copied in (a memcpy, far cheaper than the
 * hash) and announced by a message; the worker acknowledges what it has
 * hashed, which frees that part of the ring. A fresh buffer per chunk would
 * cost a large allocation per chunk and the garbage collections that follow.
 */
import { Worker } from "node:worker_threads";

const RING_BYTES = 32 * 1024 * 1024;

const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const ring = new Uint8Array(workerData);
const hash = require("node:crypto").createHash("sha256");
parentPort.on("message", (m) => {
  if (m === null) parentPort.postMessage({ digest: hash.digest("hex") });
  else { hash.update(ring.subarray(m.at, m.at + m.length)); parentPort.postMessage({ ack: m.length }); }
});
`;

export class StreamHasher {
  private readonly shared = new SharedArrayBuffer(RING_BYTES);
  private readonly ring = new Uint8Array(this.shared);
  private readonly worker = new Worker(WORKER, { eval: true, workerData: this.shared });
  /** Next write position in the ring, and bytes written but not yet acknowledged. */
  private at = 0;
  private queued = 0;
  private wake: (() => void) | undefined;
  private done: { resolve: (digest: string) => void; reject: (err: unknown) => void } | undefined;
  private failure: unknown;
  bytes = 0;

  constructor() {
    this.worker.on("message", (m: { ack?: number; digest?: string }) => {
      if (m.ack !== undefined) {
        this.queued -= m.ack;
        this.wake?.();
      } else if (m.digest !== undefined) this.done?.resolve(m.digest);
    });
    this.worker.on("error", (err) => {
      this.failure = err;
      this.wake?.();
      this.done?.reject(err);
    });
  }

  /** Hands a chunk to the worker; waits while the ring is full. */
  async update(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.length;
    for (let from = 0; from < chunk.length; ) {
      if (this.failure !== undefined) throw this.failure;
      // Write up to the end of the ring, into space the worker has finished with.
      const length = Math.min(chunk.length - from, RING_BYTES - this.at, RING_BYTES - this.queued);
      if (length === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      this.ring.set(chunk.subarray(from, from + length), this.at);
      this.worker.postMessage({ at: this.at, length });
      this.queued += length;
      this.at = (this.at + length) % RING_BYTES;
      from += length;
    }
  }

  /** The digest (hex) of everything handed over. */
  async digest(): Promise<string> {
    if (this.failure !== undefined) throw this.failure;
    const digest = new Promise<string>((resolve, reject) => (this.done = { resolve, reject }));
    this.worker.postMessage(null);
    return digest;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

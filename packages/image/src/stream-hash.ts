/**
 * The whole-stream SHA-256, computed on a worker thread: SHA-256 runs at
 * about 1.4 GB/s here, slower than reading, checking and writing pages, so
 * on the main thread it would set the pace. Only exports of images that
 * recorded the stream's SHA-256 (manifest version 1) use it; newer images
 * have an image digest (image-digest.ts) instead.
 *
 * Bytes reach the worker through slots: buffers of SLOT_BYTES on
 * SharedArrayBuffers, allocated once and reused, each announced to the worker
 * once. A fresh buffer per chunk would cost a large allocation per chunk, the
 * page faults of touching it and the garbage collections that follow.
 *
 * update(chunk) copies a chunk the caller owns into free slots, waiting
 * only for the worker, which always makes progress.
 *
 * The thread and its slots outlive their hasher: a hasher that delivered
 * its digest leaves them to the next one in the process (up to IDLE_THREADS
 * kept). Starting a worker thread costs tens of milliseconds of CPU, and
 * memory touched for the first time costs a page fault per page, on a
 * virtual machine several times the cost of hashing it; a worker imports
 * night after night.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FromHashWorker, ToHashWorker } from "./stream-hash-worker.js";

const SLOT_BYTES = 8 * 1024 * 1024;
/** Slots a hasher fills before it waits for the worker: one hashed while the next is filled. */
const MIN_SLOTS = 2;
/** Idle threads kept for the next hashers: one per import or export a process runs at once, commonly. */
const IDLE_THREADS = 2;
/** A thread that grew more slots than this (a stream of very long records) is not kept. */
const KEPT_SLOTS = 10;

/**
 * Starts a thread running stream-hash-worker: the built .js next to this
 * module, or, when this module runs from its TypeScript source (tests, tsx),
 * the .ts beside it, loaded through tsx's require hook on the new thread
 * (Node 20 does not apply an `--import tsx` loader to a worker's entry).
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./stream-hash-worker.js", import.meta.url));
  const source = fileURLToPath(new URL("./stream-hash-worker.ts", import.meta.url));
  const tsx = createRequire(import.meta.url).resolve("tsx/cjs/api");
  return new Worker(`require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(source)});`, { eval: true });
}

function post(worker: Worker, message: ToHashWorker): void {
  worker.postMessage(message);
}

/** A hashing thread and the slot buffers it has been given, in slot order. */
interface HashThread {
  readonly worker: Worker;
  readonly buffers: SharedArrayBuffer[];
}

const idle: HashThread[] = [];

function takeThread(): HashThread {
  const thread = idle.pop();
  if (thread !== undefined) {
    thread.worker.ref();
    return thread;
  }
  const worker = startWorker();
  // An idle thread has no hasher listening; a failure there only means it is not reused.
  worker.on("error", () => {
    const at = idle.findIndex((t) => t.worker === worker);
    if (at >= 0) idle.splice(at, 1);
  });
  return { worker, buffers: [] };
}

/** Keeps a thread with no work in flight and a fresh hash for the next hasher; it does not keep the process alive. */
function leaveThread(thread: HashThread): boolean {
  if (idle.length >= IDLE_THREADS || thread.buffers.length > KEPT_SLOTS) return false;
  thread.worker.unref();
  idle.push(thread);
  return true;
}

interface Slot {
  readonly bytes: Uint8Array;
  /** Sent to the worker and not yet acknowledged. */
  hashing: boolean;
}

export class StreamHasher {
  private readonly thread = takeThread();
  private readonly slots: Slot[] = this.thread.buffers.map((buffer) => ({
    bytes: new Uint8Array(buffer),
    hashing: false,
  }));
  /** The digest was delivered: nothing is in flight and the worker's hash is fresh again. */
  private finished = false;
  private wake: (() => void) | undefined;
  private done: { resolve: (digest: string) => void; reject: (err: unknown) => void } | undefined;
  private failure: unknown;
  bytes = 0;

  private readonly onMessage = (m: FromHashWorker) => {
    if ("ack" in m) {
      this.slots[m.ack]!.hashing = false;
      this.wake?.();
    } else {
      this.finished = true;
      this.done?.resolve(m.digest);
    }
  };
  private readonly onError = (err: unknown) => {
    this.failure = err;
    this.wake?.();
    this.done?.reject(err);
  };

  constructor() {
    this.thread.worker.on("message", this.onMessage);
    this.thread.worker.on("error", this.onError);
  }

  /** Hands a chunk to the worker (copied into slots); waits while the worker is behind. */
  async update(chunk: Uint8Array): Promise<void> {
    for (let from = 0; from < chunk.length; ) {
      const length = Math.min(chunk.length - from, SLOT_BYTES);
      const slot = await this.freeSlot();
      this.slots[slot]!.bytes.set(chunk.subarray(from, from + length));
      this.send(slot, length);
      from += length;
    }
  }

  /** The digest (hex) of everything handed over. */
  async digest(): Promise<string> {
    if (this.failure !== undefined) throw this.failure;
    const digest = new Promise<string>((resolve, reject) => (this.done = { resolve, reject }));
    post(this.thread.worker, null);
    return digest;
  }

  async close(): Promise<void> {
    const { worker } = this.thread;
    worker.off("message", this.onMessage);
    worker.off("error", this.onError);
    // A hasher closed before its digest (a failed import) may leave work in
    // flight, whose acknowledgements the next hasher would misread: that thread goes.
    if (!this.finished || this.failure !== undefined || !leaveThread(this.thread)) await worker.terminate();
  }

  private send(slot: number, length: number): void {
    this.slots[slot]!.hashing = true;
    this.bytes += length;
    post(this.thread.worker, { slot, length });
  }

  /** A slot not being hashed: waits for the worker, or adds a slot while there are fewer than MIN_SLOTS. */
  private async freeSlot(): Promise<number> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const free = this.slots.findIndex((s) => !s.hashing);
      if (free >= 0) return free;
      if (this.slots.length < MIN_SLOTS) return this.addSlot();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private addSlot(): number {
    const buffer = new SharedArrayBuffer(SLOT_BYTES);
    const slot = this.slots.length;
    this.slots.push({ bytes: new Uint8Array(buffer), hashing: false });
    this.thread.buffers.push(buffer);
    post(this.thread.worker, { slot, buffer });
    return slot;
  }
}

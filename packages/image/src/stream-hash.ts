/**
 * The whole-stream SHA-256, computed on a worker thread: SHA-256 runs at
 * about 1.4 GB/s here, slower than reading, parsing and BLAKE3-hashing the
 * pages together, so on the main thread it would set the pace of an import.
 *
 * Bytes reach the worker through slots: buffers of SLOT_BYTES on
 * SharedArrayBuffers, allocated once and reused, each announced to the worker
 * once. A fresh buffer per chunk would cost a large allocation per chunk, the
 * page faults of touching it and the garbage collections that follow.
 *
 * Two ways in:
 * - update(chunk) copies a chunk the caller owns into free slots;
 * - readFile(handle) reads a file straight into slots and yields views of
 *   them, so the bytes are neither copied nor allocated again. The caller
 *   reads those views while it parses, and says with release(offset) that
 *   it is done with every byte before a stream offset; a slot is reused only
 *   once the worker has hashed it and the caller has released it.
 * When every slot is held by the caller (it is still parsing a long record),
 * a new slot is added rather than waited for: only the worker, which always
 * makes progress, is ever waited on.
 *
 * The thread and its slots outlive their hasher: a hasher that delivered
 * its digest leaves them to the next one in the process (up to IDLE_THREADS
 * kept). Starting a worker thread costs tens of milliseconds of CPU, and
 * memory touched for the first time costs a page fault per page, on a
 * virtual machine several times the cost of hashing it; a worker imports
 * night after night.
 */
import type { FileHandle } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FromHashWorker, ToHashWorker } from "./stream-hash-worker.js";

const SLOT_BYTES = 8 * 1024 * 1024;
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
  /** Stream offset just past the slot's bytes while the caller may still read them; 0 when not held. */
  heldUntil: number;
}

export class StreamHasher {
  private readonly thread = takeThread();
  private readonly slots: Slot[] = this.thread.buffers.map((buffer) => ({
    bytes: new Uint8Array(buffer),
    hashing: false,
    heldUntil: 0,
  }));
  /** The digest was delivered: nothing is in flight and the worker's hash is fresh again. */
  private finished = false;
  private released = 0;
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

  /**
   * Reads an open file to its end, yielding views of the slots it reads
   * into; every byte yielded is also hashed. A view stays valid until
   * release() is given an offset at or past its end.
   *
   * The next read is started before a chunk is yielded, so it runs while
   * the caller parses: a read waits its turn in the libuv pool behind page
   * hashing and object writes, and the import would otherwise wait for
   * each one in turn.
   */
  async *readFile(file: FileHandle): AsyncGenerator<Uint8Array> {
    let next = this.readInto(file);
    try {
      for (;;) {
        const { slot, bytesRead } = await next;
        const s = this.slots[slot]!;
        if (bytesRead === 0) {
          s.heldUntil = 0;
          return;
        }
        s.heldUntil = this.bytes + bytesRead;
        this.send(slot, bytesRead);
        next = this.readInto(file);
        yield s.bytes.subarray(0, bytesRead);
      }
    } finally {
      // The file is closed once this returns: no read may still be filling a slot.
      await next.catch(() => undefined);
    }
  }

  /** Reads the file's next bytes into a free slot, which stays reserved (held) until the caller is done with it. */
  private async readInto(file: FileHandle): Promise<{ slot: number; bytesRead: number }> {
    const slot = await this.freeSlot();
    const s = this.slots[slot]!;
    s.heldUntil = Number.POSITIVE_INFINITY;
    try {
      const { bytesRead } = await file.read(s.bytes, 0, SLOT_BYTES, null);
      return { slot, bytesRead };
    } catch (err) {
      s.heldUntil = 0;
      throw err;
    }
  }

  /** The caller of readFile is done with every byte before stream offset `offset`. */
  release(offset: number): void {
    this.released = Math.max(this.released, offset);
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

  /** A slot neither being hashed nor held by the caller: waits only for the worker, else adds a slot. */
  private async freeSlot(): Promise<number> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      let waitable = false;
      for (let i = 0; i < this.slots.length; i++) {
        const s = this.slots[i]!;
        const held = s.heldUntil > this.released;
        if (!held) s.heldUntil = 0;
        if (!held && !s.hashing) return i;
        if (!held) waitable = true;
      }
      if (!waitable) return this.addSlot();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private addSlot(): number {
    const buffer = new SharedArrayBuffer(SLOT_BYTES);
    const slot = this.slots.length;
    this.slots.push({ bytes: new Uint8Array(buffer), hashing: false, heldUntil: 0 });
    this.thread.buffers.push(buffer);
    post(this.thread.worker, { slot, buffer });
    return slot;
  }
}

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
 * Slots outlive their hasher: close() leaves them to the next import in the
 * process (up to SPARE_SLOTS). Memory touched for the first time costs a
 * page fault per page, and on a virtual machine that is several times the
 * cost of hashing it; a worker imports night after night.
 */
import type { FileHandle } from "node:fs/promises";
import { Worker } from "node:worker_threads";

const SLOT_BYTES = 8 * 1024 * 1024;
/** Slots kept for the next hasher: enough for an import's read-ahead (64 MiB of records, and the chunk being read). */
const SPARE_SLOTS = 10;
const spares: SharedArrayBuffer[] = [];

const WORKER = `
const { parentPort } = require("node:worker_threads");
const slots = [];
const hash = require("node:crypto").createHash("sha256");
parentPort.on("message", (m) => {
  if (m === null) parentPort.postMessage({ digest: hash.digest("hex") });
  else if (m.buffer !== undefined) slots[m.slot] = new Uint8Array(m.buffer);
  else { hash.update(slots[m.slot].subarray(0, m.length)); parentPort.postMessage({ ack: m.slot }); }
});
`;

interface Slot {
  readonly bytes: Uint8Array;
  /** Sent to the worker and not yet acknowledged. */
  hashing: boolean;
  /** Stream offset just past the slot's bytes while the caller may still read them; 0 when not held. */
  heldUntil: number;
}

export class StreamHasher {
  private readonly worker = new Worker(WORKER, { eval: true });
  private readonly slots: Slot[] = [];
  private released = 0;
  private wake: (() => void) | undefined;
  private done: { resolve: (digest: string) => void; reject: (err: unknown) => void } | undefined;
  private failure: unknown;
  bytes = 0;

  constructor() {
    this.worker.on("message", (m: { ack?: number; digest?: string }) => {
      if (m.ack !== undefined) {
        this.slots[m.ack]!.hashing = false;
        this.wake?.();
      } else if (m.digest !== undefined) this.done?.resolve(m.digest);
    });
    this.worker.on("error", (err) => {
      this.failure = err;
      this.wake?.();
      this.done?.reject(err);
    });
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
    this.worker.postMessage(null);
    return digest;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
    // The worker is gone and the caller is done: nobody reads these any more.
    for (const s of this.slots.splice(0)) if (spares.length < SPARE_SLOTS) spares.push(s.bytes.buffer as SharedArrayBuffer);
  }

  private send(slot: number, length: number): void {
    this.slots[slot]!.hashing = true;
    this.bytes += length;
    this.worker.postMessage({ slot, length });
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
    const buffer = spares.pop() ?? new SharedArrayBuffer(SLOT_BYTES);
    const slot = this.slots.length;
    this.slots.push({ bytes: new Uint8Array(buffer), hashing: false, heldUntil: 0 });
    this.worker.postMessage({ slot, buffer });
    return slot;
  }
}

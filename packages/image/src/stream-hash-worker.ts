/**
 * The program of a stream hash's worker thread (stream-hash.ts starts it):
 * it keeps the slot buffers it is given and hashes the bytes each message
 * names in a slot, acknowledging each. After a digest it starts a fresh hash,
 * so the thread is ready for the next stream.
 */
import { createHash } from "node:crypto";
import { parentPort } from "node:worker_threads";

/** To the worker: a new slot's buffer, a slot's first `length` bytes to hash, or null for the digest. */
export type ToHashWorker = { slot: number; buffer: SharedArrayBuffer } | { slot: number; length: number } | null;

/** From the worker: a slot hashed (free again), or the digest (hex) of everything since the last one. */
export type FromHashWorker = { ack: number } | { digest: string };

if (parentPort === null) throw new Error("stream-hash-worker runs on a worker thread, started by StreamHasher");
const port = parentPort;
const slots: Uint8Array[] = [];
let hash = createHash("sha256");

function reply(message: FromHashWorker): void {
  port.postMessage(message);
}

port.on("message", (m: ToHashWorker) => {
  if (m === null) {
    reply({ digest: hash.digest("hex") });
    hash = createHash("sha256");
  } else if ("buffer" in m) slots[m.slot] = new Uint8Array(m.buffer);
  else {
    hash.update(slots[m.slot]!.subarray(0, m.length));
    reply({ ack: m.slot });
  }
});

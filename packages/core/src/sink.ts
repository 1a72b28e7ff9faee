/** Writing into a Node stream with backpressure, without hanging on one that fails. */
import type { Writable } from "node:stream";
import { OperationAbortedError } from "./errors.js";

/**
 * Writes one chunk and, when the sink's buffer is full, waits for it to
 * drain: the sink's pace (a network, a slow disk) is what a save measures
 * as its send rate. Never hangs on a sink that errors or closes instead.
 */
export async function writeChunk(sink: Writable, chunk: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (sink.destroyed || sink.writableEnded) throw new Error("sink is closed");
  if (sink.write(chunk)) return;
  await waitFor(sink, "drain", signal);
}

/** Ends the sink and waits until everything was flushed. */
export async function endSink(sink: Writable, signal?: AbortSignal): Promise<void> {
  const done = waitFor(sink, "finish", signal);
  sink.end();
  await done;
}

function waitFor(sink: Writable, event: "drain" | "finish", signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      sink.off(event, onEvent);
      sink.off("error", onError);
      sink.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    const onEvent = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      if (event === "finish" && sink.writableFinished) resolve();
      else reject(new Error(`sink closed while waiting for ${event}`));
    };
    const onAbort = () => {
      cleanup();
      reject(new OperationAbortedError("write", { cause: signal?.reason }));
    };
    if (signal?.aborted) return onAbort();
    sink.on(event, onEvent);
    sink.on("error", onError);
    sink.on("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Two sides joined by an in-memory pipe: a producer writing a byte stream
 * (a hypervisor's save, an image export) and a consumer reading it (an
 * import, a restore), so no temporary file of the whole stream ever exists
 * and memory stays bounded (backpressure runs from the consumer back to the
 * producer).
 *
 * One failing side must stop the other: a dead consumer would leave the
 * producer blocked on a full pipe, a failed producer would leave the
 * consumer waiting for bytes that never come. Both sides get a signal that
 * aborts at the first failure, the pipe is destroyed, and once both have
 * settled (so nothing runs on after this returns) the error that came first
 * is thrown: the other side's is only its consequence.
 */
import { PassThrough, type Readable, type Writable } from "node:stream";

export interface PipedOptions {
  /** Bytes buffered between the two sides. Default 8 MiB. */
  highWaterMark?: number;
  signal?: AbortSignal;
}

/** Raised when neither side failed yet one of them did not deliver (a bug, never expected). */
const UNREACHABLE = "a side of a pipe neither returned nor failed";

export async function piped<P, C>(
  produce: (sink: Writable, signal: AbortSignal) => Promise<P>,
  consume: (source: Readable, signal: AbortSignal) => Promise<C>,
  options: PipedOptions = {},
): Promise<[P, C]> {
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  const pipe = new PassThrough({ highWaterMark: options.highWaterMark ?? 8 * 2 ** 20 });
  // A failure reaches the caller through firstError; destroying the pipe only
  // tells the other side. A side that fails at once destroys the pipe before
  // the other listens, which must not crash the process.
  pipe.on("error", () => {});
  let firstError: { err: unknown } | undefined;
  const fail = (err: unknown): never => {
    firstError ??= { err };
    abort.abort(err);
    pipe.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  };
  const [produced, consumed] = await Promise.allSettled([
    produce(pipe, signal).catch(fail),
    consume(pipe, signal).catch(fail),
  ]);
  if (firstError !== undefined) throw firstError.err;
  if (produced.status === "rejected" || consumed.status === "rejected") throw new Error(UNREACHABLE);
  return [produced.value, consumed.value];
}

/**
 * Turns any byte source (path, fd, Node stream, iterable of chunks) into an
 * async iterable of chunks. Files are read in large chunks into fresh
 * buffers, so views handed out by the reader are never overwritten.
 */
import { read as fsRead } from "node:fs";
import { open } from "node:fs/promises";

export type StreamSource = string | number | Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface SourceOptions {
  /** Read size for paths and fds (default 8 MiB). */
  chunkSize?: number;
}

// 8 MiB: fewer reads, fewer hand-offs to the stream hash and fewer large
// allocations per GiB than 2 MiB, for a few MiB more held while parsing.
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

export function openSource(source: StreamSource, options: SourceOptions = {}): AsyncIterable<Uint8Array> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (typeof source === "string") return readPath(source, chunkSize);
  if (typeof source === "number") return readFd(source, chunkSize);
  if (source instanceof Uint8Array) return fromIterable([source]);
  if (Symbol.asyncIterator in source) return source;
  return fromIterable(source);
}

async function* fromIterable(chunks: Iterable<Uint8Array>): AsyncIterable<Uint8Array> {
  yield* chunks;
}

async function* readPath(path: string, chunkSize: number): AsyncIterable<Uint8Array> {
  const file = await open(path, "r");
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafeSlow(chunkSize);
      const { bytesRead } = await file.read(buffer, 0, chunkSize, null);
      if (bytesRead === 0) return;
      yield bytesRead === chunkSize ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

/** Reads an fd the caller owns (it is not closed). */
async function* readFd(fd: number, chunkSize: number): AsyncIterable<Uint8Array> {
  for (;;) {
    const buffer = Buffer.allocUnsafeSlow(chunkSize);
    const bytesRead = await new Promise<number>((resolve, reject) =>
      fsRead(fd, buffer, 0, chunkSize, null, (err, n) => (err ? reject(err) : resolve(n))),
    );
    if (bytesRead === 0) return;
    yield bytesRead === chunkSize ? buffer : buffer.subarray(0, bytesRead);
  }
}

import type { PutSource } from "./object-store.js";

/** The chunks of a put source, whatever its shape. */
export async function* sourceChunks(source: PutSource): AsyncIterable<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  yield* source;
}

/** Reads a put source whole (for backends or wrappers that need the bytes in memory). */
export async function collectSource(source: PutSource): Promise<Buffer> {
  if (source instanceof Uint8Array) return Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

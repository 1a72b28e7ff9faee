/**
 * The stream reader: typed events from any byte source, with memory bounded
 * by the largest record whatever the image size. The parsing itself is the
 * synchronous StreamDecoder; this only pumps chunks into it.
 */
import { type DecoderOptions, StreamDecoder } from "./decoder.js";
import type { StreamEvent } from "./events.js";
import { type SourceOptions, type StreamSource, openSource } from "./source.js";

export type ReadOptions = DecoderOptions & SourceOptions;

export async function* readStream(
  source: StreamSource,
  options: ReadOptions = {},
): AsyncGenerator<StreamEvent, void, undefined> {
  const decoder = new StreamDecoder(options);
  for await (const chunk of openSource(source, options)) {
    // All the events a chunk completes were parsed synchronously; hand them out in order.
    yield* decoder.push(chunk);
  }
  decoder.end();
}

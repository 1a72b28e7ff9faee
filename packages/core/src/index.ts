export * from "./errors.js";
export { parseSize, formatSize, parseDuration, formatDuration } from "./units.js";
export { sleep, poll, type PollOptions } from "./wait.js";
export { writeChunk, endSink } from "./sink.js";
export { piped, type PipedOptions } from "./pipe.js";

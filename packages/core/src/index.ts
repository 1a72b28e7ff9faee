export * from "./errors.js";
export { parseSize, formatSize, parseDuration, formatDuration } from "./units.js";
export { sleep, poll, type PollOptions } from "./wait.js";
export { isProcessRunning } from "./process.js";
export { writeChunk, endSink } from "./sink.js";
export { piped, type PipedOptions } from "./pipe.js";
export {
  defineLayout,
  field,
  type ByteOrder,
  type FieldSpec,
  type FieldValue,
  type IntegerType,
  type Layout,
  type LayoutDeclaration,
  type LayoutInput,
  type LayoutOffsets,
  type LayoutValues,
} from "./layout.js";
export { forEachLimited } from "./each.js";

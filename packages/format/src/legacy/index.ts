/**
 * Legacy (pre-v2) Xen save streams: reading, width/guest detection,
 * conversion to v2, and a writer for tests. See README.md in this directory.
 */
export {
  LegacyDetectError,
  LegacyError,
  LegacyStreamError,
  type LegacyErrorDetails,
  type LegacyErrorReason,
} from "./errors.js";
export type { BlobKind, LegacyEvent } from "./events.js";
export { type LegacyReadOptions, readLegacy } from "./reader.js";
export { type LegacyDetection, type LegacyShape, type ShapeHints, decideShape, detectLegacy } from "./detect.js";
export {
  type ConvertOptions,
  type LegacyConversion,
  type LegacySourceInfo,
  type OutputFormat,
  convertLegacy,
  convertLegacyStream,
  openLegacyAsV2,
} from "./convert.js";
export { type LegacyImageOptions, type PhysmapEntry, writeLegacyStream } from "./writer.js";
export { Chunk, HvmParam, type LegacyGuest, type ToolstackWidth } from "./layout.js";

/**
 * @xenfleet/native: the page kernels JavaScript cannot make fast (BLAKE3 batch
 * hashing, zero-page detection, XOR+RLE page deltas) and the libxl bindings
 * of the `xen` backend.
 */
export { PAGE_SIZE, type PageOffsets } from "./pages.js";
export { BLAKE3_VERSION, DIGEST_LENGTH, blake3, hashPages, hashPagesAsync } from "./hash.js";
export { zeroPages } from "./zero.js";
export { PAGE_OTHER, PAGE_SAME, PAGE_ZERO, classifyPagesAsync } from "./classify.js";
export { DELTA_VERSION, MAX_DELTA_LENGTH, deltaDecode, deltaEncode } from "./delta.js";
export {
  LIBXL_BUILT,
  Libxl,
  xenAvailable,
  type DomainInfo,
  type DomainType,
  type PhysInfo,
  type RestoreOptions,
  type SaveOptions,
} from "./libxl.js";
export { DeltaFormatError, LibxlError, NativeArgumentError, XenUnavailableError } from "./errors.js";

/**
 * @xenfleet/image: Xen save streams as deduplicated images in an
 * ObjectStore. README.md defines the words and the formats.
 */
export * from "./errors.js";
export { importImage, type ImportOptions, type ImportProgress, type ImportResult } from "./importer.js";
export { importAnyImage, importLegacyImage, type AnyImportOptions } from "./legacy.js";
export { exportImage, verifyImage, type ExportOptions, type ExportProgress, type ExportResult } from "./exporter.js";
export { listImages, removeImage, type ImageInfo } from "./images.js";
export { prune, selectKept, isoWeek, type PruneResult, type RetentionPolicy } from "./retention.js";
export { gc, DEFAULT_GRACE_MS, type GcOptions, type GcResult } from "./gc.js";
export { copyImages, type CopyOptions, type CopyResult } from "./copy.js";
export {
  compressImage,
  compressPack,
  readForward,
  resolvePack,
  type CompressImageResult,
  type CompressPackResult,
  type ForwardRecord,
} from "./forwards.js";
export {
  acquireLock,
  listLocks,
  isStale,
  DEFAULT_STALE_MS,
  type HeldLock,
  type LockKind,
  type LockOptions,
  type LockRecord,
} from "./locks.js";
export {
  addImageRef,
  imageRefLabels,
  latestImageRef,
  listImageRefs,
  removeImageRef,
  type ImageRef,
} from "./refs.js";
export { PROTECTED_REFS, protectImage, protectedImages, unprotectImage } from "./protection.js";
export { imageOrigin, ORIGIN_REFS, setImageOrigin } from "./origins.js";
export { loadManifest, loadBlock } from "./load.js";
export * as manifestFormat from "./manifest.js";
export * as pageListFormat from "./page-list.js";
export type { Manifest, BlockRef, SourceKind, DomainTypeName } from "./manifest.js";
export * as keys from "./keys.js";
export { parseImageId, type Sha256Id } from "./keys.js";
export { DigestTable } from "./digest-table.js";
export {
  checkStore,
  inSubset,
  parseCheckSubset,
  type CheckOptions,
  type CheckProblem,
  type CheckResult,
  type CheckSubset,
} from "./check.js";
export { damageOf, damagedPacks, quarantineObject, DAMAGED, QUARANTINE, type DamageRecord } from "./quarantine.js";
export {
  HEALTH_REFS,
  listHealthChecks,
  readHealthCheck,
  recordHealthCheck,
  type HealthCheck,
  type HealthDigest,
} from "./health.js";
export {
  listVerifications,
  readVerification,
  verifyAndRecord,
  VERIFIED_REFS,
  type Verification,
  type VerifyOptions,
} from "./verification.js";

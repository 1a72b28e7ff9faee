export * from "./errors.js";
export {
  MAX_KEY_LENGTH,
  MAX_SEGMENT_LENGTH,
  REFS_PREFIX,
  compareKeys,
  refKey,
  validateKey,
  validateObjectKey,
  validatePrefix,
} from "./key.js";
export {
  CONTENT_ID_BYTES,
  contentIdFromBytes,
  contentIdToBytes,
  contentKey,
  parseContentId,
  sha256Hasher,
  sha256Id,
  shortId,
  type ContentId,
  type HashAlgorithm,
  type Hasher,
} from "./content-id.js";
export type {
  ByteRange,
  ListEntry,
  ObjectInfo,
  ObjectStore,
  PutResult,
  PutSource,
  RefValue,
  RefWriteOptions,
  StoreCapabilities,
  SweptTemporary,
  PutOptions,
} from "./object-store.js";
export { LocalStore } from "./local-store.js";
export { MemoryStore } from "./memory-store.js";
// The S3 backend (and the AWS SDK, a third of a second to load) is "@xenfleet/store/s3", loaded only when an s3: store is opened.
export type { S3StoreConfig } from "./s3-store.js";
export { RetryStore, type RetryEvent, type RetryOptions } from "./retry-store.js";
export { LimitStore, Semaphore } from "./limit-store.js";
export { isTransientError } from "./transient.js";
export { DEFAULT_STORE_PATH, parseStoreUrl, type StoreConfig, type StoreEnv } from "./store-url.js";
export { openInnerStore, openStore, openStoreConfig, wrapBackend, type OpenStoreOptions } from "./open-store.js";
export { getContent, getVerified, putContent } from "./verified.js";
export {
  COMPRESSIONS,
  DEFAULT_ZSTD_LEVEL,
  compressFrame,
  decompressFrame,
  isCompression,
  type Compression,
} from "./compression.js";
export * as packFormat from "./pack/format.js";
export {
  DEFAULT_FRAME_ENTRIES,
  DEFAULT_PACK_TARGET_BYTES,
  PackWriter,
  packKey,
  packRoom,
  writePack,
  type FinishedPack,
  type PackEntryLocation,
  type PackWriterOptions,
} from "./pack/writer.js";
export { PackReader, type PackReaderOptions } from "./pack/reader.js";
export { BufferPool } from "./pack/buffer-pool.js";
export { recompressPack, type RecompressOptions, type RecompressResult } from "./pack/recompress.js";
export * from "./key-errors.js";
export { createKeyFile, keyFileId, readKeyFile, readKeyFileSync, KEY_FILE_FORMAT, type KeyFile } from "./key-file.js";
export { DEFAULT_SCRYPT, type ScryptParams } from "./key-wrap.js";
export {
  describeSecret,
  KeyRing,
  newMasterKey,
  type AddKeyOptions,
  type KeyInfo,
  type KeySecret,
} from "./key-ring.js";
export {
  newStoreHeader,
  readStoreHeader,
  writeStoreHeader,
  type EncryptionHeader,
  type StoreHeader,
} from "./store-header.js";
export {
  EncryptedStore,
  STORE_HEADER_NAME,
  WRAPPED_KEYS_PREFIX,
  isKeyHierarchyName,
} from "./encrypted-store.js";
export { MASTER_KEY_BYTES, masterKeyId } from "./encryption/keys.js";
export {
  describeKeySource,
  ENCRYPTION_SCHEME,
  encryptionHeader,
  initStore,
  readKeyRing,
  readKeySecret,
  unlockStore,
  type InitStoreOptions,
  type InitStoreResult,
  type StoreKeySource,
  type UnlockedStore,
} from "./unlock-store.js";

import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import type { GetObjectCommandOutput, ListObjectsV2CommandOutput } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { Readable } from "node:stream";
import { InvalidKeyError, ObjectNotFoundError, RefConflictError, StoreUnavailableError } from "./errors.js";
import { REFS_PREFIX, refKey, validateKey, validateObjectKey, validatePrefix } from "./key.js";
import type {
  ByteRange,
  ListEntry,
  ObjectInfo,
  ObjectStore,
  PutResult,
  PutSource,
  RefValue,
  RefWriteOptions,
} from "./object-store.js";
import { validateRange } from "./range.js";
import { httpStatusOf, mapS3Error } from "./s3-errors.js";
import { sourceChunks } from "./source.js";

/** S3 refuses multipart parts smaller than this (except the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface S3StoreConfig {
  readonly bucket: string;
  /** Key prefix inside the bucket ("" or e.g. "fleet/prod"); every store key lives under it. */
  readonly prefix?: string;
  /** e.g. http://127.0.0.1:9000 for MinIO; omitted for AWS. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Path-style addressing (http://host/bucket/key), which MinIO and most self-hosted services need. */
  readonly forcePathStyle?: boolean;
  /** Omitted: the SDK's default provider chain. Never logged, never part of `location`. */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /**
   * The service honours If-None-Match / If-Match on PutObject (AWS S3 since
   * 2024, recent MinIO). Then put-if-absent is one atomic request and refs
   * get atomic compare-and-swap. Off (the default): HeadObject before
   * PutObject, and ref compare-and-swap is checked by reading first (last
   * writer wins in a race). Turning it on against a service that silently
   * ignores the headers would turn both into overwrites, so it is opt-in.
   */
  readonly conditionalWrites?: boolean;
  /** Objects larger than this are sent as multipart uploads of parts this size (min 5 MiB). Default 8 MiB. */
  readonly partSize?: number;
  /** Parts of one multipart upload in flight at once. Default 4. */
  readonly uploadConcurrency?: number;
  /** Keys per ListObjectsV2 page (max 1000). */
  readonly listPageSize?: number;
  /** Attempts per request by the SDK's own retry strategy (RetryStore retries on top). Default 3. */
  readonly maxAttempts?: number;
  /** A request fails (transiently) when its answer has not begun, or has stalled, for this long. Default 60 s. */
  readonly requestTimeoutMs?: number;
}

/**
 * The S3 backend (AWS SDK v3), for AWS or any S3-compatible service.
 *
 * Request checksums are computed only when an operation requires them: the
 * SDK's default (CRC32 trailers on every upload) is not understood by every
 * S3-compatible service, and integrity is checked end to end anyway by
 * content ids.
 */
export class S3Store implements ObjectStore {
  readonly location: string;
  readonly capabilities: { readonly exclusiveCreate: boolean; readonly atomicRefs: boolean };
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly keyPrefix: string;
  private readonly partSize: number;
  private readonly uploadConcurrency: number;
  private readonly listPageSize: number;
  private readonly conditional: boolean;

  constructor(config: S3StoreConfig) {
    const prefix = (config.prefix ?? "").replace(/^\/+|\/+$/g, "");
    if (prefix !== "") validateKey(prefix);
    this.bucket = config.bucket;
    this.keyPrefix = prefix === "" ? "" : `${prefix}/`;
    this.partSize = Math.max(MIN_PART_SIZE, config.partSize ?? 8 * 1024 * 1024);
    this.uploadConcurrency = Math.max(1, config.uploadConcurrency ?? 4);
    this.listPageSize = Math.min(1000, Math.max(1, config.listPageSize ?? 1000));
    this.conditional = config.conditionalWrites ?? false;
    this.capabilities = { exclusiveCreate: this.conditional, atomicRefs: this.conditional };
    this.location = `s3://${config.bucket}/${prefix}${config.endpoint === undefined ? "" : ` at ${config.endpoint}`}`;
    this.client = new S3Client({
      region: config.region ?? "us-east-1",
      ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
      forcePathStyle: config.forcePathStyle ?? false,
      ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
      maxAttempts: config.maxAttempts ?? 3,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      // requestTimeout alone only logs a warning (smithy's default); a service
      // that stops answering must fail the request instead, both before the
      // response head (throwOnRequestTimeout) and while its body is read
      // (socketTimeout, on inactivity), so retries can take over.
      requestHandler: {
        requestTimeout: config.requestTimeoutMs ?? 60_000,
        throwOnRequestTimeout: true,
        socketTimeout: config.requestTimeoutMs ?? 60_000,
        connectionTimeout: 10_000,
      },
    });
  }

  async put(key: string, data: PutSource): Promise<PutResult> {
    validateObjectKey(key);
    const objectKey = this.keyPrefix + key;
    const small = data instanceof Uint8Array && data.length <= this.partSize;
    if (this.conditional && small) {
      try {
        await this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: data, IfNoneMatch: "*" }),
        );
        return { created: true };
      } catch (err) {
        if (httpStatusOf(err) === 412) return { created: false };
        throw mapS3Error("put", key, err);
      }
    }
    // Head then put: a racing put of the same key writes the same bytes
    // (keys are content addresses), so the race only costs a duplicate upload.
    if ((await this.head(key)) !== undefined) return { created: false };
    try {
      if (small) {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: data }));
      } else {
        const body = data instanceof Uint8Array ? data : Readable.from(sourceChunks(data));
        const upload = new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key: objectKey, Body: body },
          partSize: this.partSize,
          queueSize: this.uploadConcurrency,
          leavePartsOnError: false,
        });
        await upload.done();
      }
      return { created: true };
    } catch (err) {
      throw mapS3Error("put", key, err);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const response = await this.getObject(key, range);
    if (response === undefined) return Buffer.alloc(0);
    let bytes: Uint8Array;
    try {
      bytes = await response.Body!.transformToByteArray();
    } catch (err) {
      throw mapS3Error("get", key, err);
    }
    // A connection that ends early can hand over fewer bytes than announced.
    if (response.ContentLength !== undefined && bytes.length !== response.ContentLength) {
      throw new StoreUnavailableError("get", key, `received ${bytes.length} of ${response.ContentLength} bytes`);
    }
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    const response = await this.getObject(key, range);
    if (response === undefined) return Readable.from([]);
    return response.Body as Readable;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    validateKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }));
      return { size: out.ContentLength ?? 0, mtime: out.LastModified ?? new Date(0) };
    } catch (err) {
      const mapped = mapS3Error("head", key, err);
      if (mapped instanceof ObjectNotFoundError) return undefined;
      throw mapped;
    }
  }

  async *list(prefix: string): AsyncIterable<ListEntry> {
    validatePrefix(prefix);
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.keyPrefix + prefix,
            MaxKeys: this.listPageSize,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        );
      } catch (err) {
        throw mapS3Error("list", prefix, err);
      }
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(this.keyPrefix.length);
        // Objects another tool put in the bucket under names our keys cannot take are not ours.
        if (key === undefined || !isValidKey(key)) continue;
        yield { key, size: object.Size ?? 0, mtime: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async delete(key: string): Promise<void> {
    validateObjectKey(key);
    await this.deleteObject("delete", key);
  }

  async getRef(name: string): Promise<RefValue | undefined> {
    const key = refKey(name);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }));
      const bytes = await out.Body!.transformToByteArray();
      return { data: Buffer.from(bytes), version: out.ETag ?? "" };
    } catch (err) {
      const mapped = mapS3Error("getRef", key, err);
      if (mapped instanceof ObjectNotFoundError) return undefined;
      throw mapped;
    }
  }

  async putRef(name: string, data: Uint8Array, options?: RefWriteOptions): Promise<{ version: string }> {
    const key = refKey(name);
    const expect = options?.expect;
    if (expect !== undefined && !this.conditional) await this.checkVersion(name, key, expect);
    const condition =
      expect === undefined || !this.conditional ? {} : expect === null ? { IfNoneMatch: "*" } : { IfMatch: expect };
    try {
      const out = await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key, Body: data, ...condition }),
      );
      return { version: out.ETag ?? "" };
    } catch (err) {
      if (httpStatusOf(err) === 412 && expect !== undefined)
        throw new RefConflictError(name, expect, await this.versionOf(key));
      throw mapS3Error("putRef", key, err);
    }
  }

  async deleteRef(name: string, options?: RefWriteOptions): Promise<void> {
    const key = refKey(name);
    const expect = options?.expect;
    if (expect === undefined) return this.deleteObject("deleteRef", key);
    if (expect === null || !this.conditional) {
      await this.checkVersion(name, key, expect);
      if (expect === null) return; // "must not exist" and it does not: nothing to delete
      return this.deleteObject("deleteRef", key);
    }
    try {
      await this.client.send(
        new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key, IfMatch: expect }),
      );
    } catch (err) {
      const status = httpStatusOf(err);
      if (status === 412 || status === 404) throw new RefConflictError(name, expect, await this.versionOf(key));
      throw mapS3Error("deleteRef", key, err);
    }
  }

  async *listRefs(prefix: string): AsyncIterable<ListEntry> {
    validatePrefix(prefix);
    for await (const entry of this.list(REFS_PREFIX + prefix))
      yield { ...entry, key: entry.key.slice(REFS_PREFIX.length) };
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /**
   * GetObject with the short-read rule applied: undefined when the range
   * holds no bytes (length 0, or an offset at or past the end, which S3
   * answers with 416) once the object is known to exist.
   */
  private async getObject(key: string, range: ByteRange | undefined): Promise<GetObjectCommandOutput | undefined> {
    validateKey(key);
    validateRange(key, range);
    if (range?.length === 0) {
      if ((await this.head(key)) === undefined) throw new ObjectNotFoundError(key);
      return undefined;
    }
    const header =
      range === undefined
        ? {}
        : { Range: `bytes=${range.offset}-${range.length === undefined ? "" : range.offset + range.length - 1}` };
    try {
      return await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key, ...header }),
      );
    } catch (err) {
      if (httpStatusOf(err) === 416) return undefined;
      throw mapS3Error("get", key, err);
    }
  }

  private async deleteObject(operation: string, key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }));
    } catch (err) {
      const mapped = mapS3Error(operation, key, err);
      if (mapped instanceof ObjectNotFoundError) return;
      throw mapped;
    }
  }

  private async versionOf(key: string): Promise<string | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }));
      return out.ETag ?? "";
    } catch (err) {
      const mapped = mapS3Error("getRef", key, err);
      if (mapped instanceof ObjectNotFoundError) return null;
      throw mapped;
    }
  }

  private async checkVersion(name: string, key: string, expect: string | null): Promise<void> {
    const actual = await this.versionOf(key);
    if (actual !== expect) throw new RefConflictError(name, expect, actual);
  }
}

function isValidKey(key: string): boolean {
  try {
    validateKey(key);
    return true;
  } catch (err) {
    if (err instanceof InvalidKeyError) return false;
    throw err;
  }
}

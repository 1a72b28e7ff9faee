import { XenfleetError } from "@xenfleet/core";
import { ObjectNotFoundError, StoreRequestError, StoreUnavailableError } from "./errors.js";

/** Connection-level failures that a later attempt may not meet. */
const TRANSIENT_NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_SOCKET",
]);

/** S3 error names that mean "try again later" even when the status says otherwise. */
const TRANSIENT_S3_NAMES = new Set([
  "SlowDown",
  "RequestTimeout",
  "InternalError",
  "ServiceUnavailable",
  "TimeoutError",
  "RequestTimeoutException",
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** The HTTP status of an SDK error, if it got that far. */
export function httpStatusOf(err: unknown): number | undefined {
  return (err as SdkErrorShape | null)?.$metadata?.httpStatusCode;
}

/**
 * Turns an SDK error into one of the store's typed errors: 404 (other than
 * a missing bucket) is ObjectNotFoundError; 5xx, 429, throttling and
 * connection failures are StoreUnavailableError (retried); any other
 * refusal (403, 400, missing bucket) is StoreRequestError (not retried).
 */
export function mapS3Error(operation: string, key: string | undefined, err: unknown): Error {
  if (err instanceof XenfleetError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const status = httpStatusOf(err);
  const name = e.name ?? "Error";
  const cause = slim(err, e);
  const detail = `${name}${status === undefined ? "" : ` (HTTP ${status})`}: ${e.message ?? String(err)}`;
  if (name === "NoSuchBucket") return new StoreRequestError(operation, key, detail, { cause });
  if ((name === "NoSuchKey" || name === "NotFound" || status === 404) && key !== undefined) {
    return new ObjectNotFoundError(key, { cause });
  }
  const transient =
    (status !== undefined && (status >= 500 || status === 429)) ||
    TRANSIENT_S3_NAMES.has(name) ||
    (e.code !== undefined && TRANSIENT_NETWORK_CODES.has(e.code)) ||
    (status === undefined && e.$retryable !== undefined);
  return transient
    ? new StoreUnavailableError(operation, key, detail, { cause })
    : new StoreRequestError(operation, key, detail, { cause });
}

/**
 * The SDK's error with its raw HTTP response (socket and all) left out: the
 * response buries logs, and a cause needs only the name, message, status and
 * request id.
 */
function slim(err: unknown, e: SdkErrorShape): unknown {
  if (!(err instanceof Error) || !("$response" in err)) return err;
  const copy = new Error(e.message ?? "", { cause: undefined });
  copy.name = e.name ?? "Error";
  Object.assign(copy, { code: e.code, $metadata: e.$metadata });
  return copy;
}

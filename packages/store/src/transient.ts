import { XenfleetError } from "@xenfleet/core";
import { StoreUnavailableError } from "./errors.js";

const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/**
 * Whether repeating a failed store call may succeed. Backends report
 * transient failures as StoreUnavailableError; a raw connection error from a
 * backend that did not map it counts too. Everything else (not found, bad
 * key, corruption, refusal, a lost compare-and-swap) is final.
 */
export function isTransientError(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  if (err instanceof XenfleetError) return false;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && TRANSIENT_CODES.has(code);
}

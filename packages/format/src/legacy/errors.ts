/**
 * Errors for legacy (pre-v2) streams. Layout reference: legacy.py and
 * convert-legacy-stream in Xen's tools/python (see layout.ts).
 *
 * A legacy stream has no records to name, so errors name the part of the
 * stream instead ("p2m frame list", "page batch", "chunk TSC_INFO", ...).
 */
import { XenfleetError } from "@xenfleet/core";

export type LegacyErrorReason =
  /** The stream ended inside something. */
  | "truncated"
  /** A field holds a value the format does not allow. */
  | "bad-value"
  /** A count or length is out of the range the format allows. */
  | "bad-count"
  /** Valid legacy data that this converter (like Xen's) does not handle. */
  | "unsupported"
  /** Bytes after the end of the stream. */
  | "trailing-data"
  /** The stream is not legacy, or options contradict it. */
  | "not-legacy"
  /** The toolstack width or guest type cannot be told from the bytes. */
  | "undecidable";

export interface LegacyErrorDetails {
  reason: LegacyErrorReason;
  /** Byte offset in the input of the field or item at fault. */
  offset: number;
  /** The part of the stream being read, e.g. "page batch" or "chunk TSC_INFO". */
  part: string;
  /** What the stream should have held there. */
  expected: string;
  actual?: string | undefined;
}

abstract class LegacyError extends XenfleetError {
  readonly reason: LegacyErrorReason;
  readonly offset: number;
  readonly part: string;
  readonly expected: string;
  readonly actual: string | undefined;

  constructor(details: LegacyErrorDetails) {
    super(
      `legacy ${details.part} at offset ${details.offset}: ${details.reason}: expected ${details.expected}` +
        (details.actual !== undefined ? `, got ${details.actual}` : ""),
    );
    this.reason = details.reason;
    this.offset = details.offset;
    this.part = details.part;
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/** The legacy stream is malformed, hostile, or uses something unsupported. */
export class LegacyStreamError extends LegacyError {
  readonly code = "XF_LEGACY_STREAM";
}

/**
 * The toolstack width or guest type cannot be decided from the stream; the
 * message says why and which option settles it. Retrying with the option
 * given can succeed, but retrying as is cannot.
 */
export class LegacyDetectError extends LegacyError {
  readonly code = "XF_LEGACY_DETECT";
}

export { LegacyError };

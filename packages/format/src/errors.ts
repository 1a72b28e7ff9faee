import { XenfleetError } from "@xenfleet/core";

/** The nested formats of a stream, outermost first. */
export type Layer = "xl" | "libxl" | "libxc";

/** Why a stream or record was refused; stable, for programs and tests. */
export type FormatErrorReason =
  | "truncated"
  | "bad-magic"
  | "unsupported-version"
  | "reserved-bits"
  | "bad-padding"
  | "bad-length"
  | "too-large"
  | "bad-value"
  | "wrong-phase"
  | "unknown-record"
  | "unsupported-record"
  | "trailing-data"
  | "bad-config"
  | "usage";

export interface FormatErrorDetails {
  reason: FormatErrorReason;
  /** Byte offset in the whole stream of the header or record at fault. */
  offset: number;
  layer: Layer;
  recordType?: number | undefined;
  recordName?: string | undefined;
  /** What the stream should have held there, in words. */
  expected: string;
  /** What it held instead, when that is short enough to show. */
  actual?: string | undefined;
}

/** A stream the format package refuses to read or write. */
export abstract class FormatError extends XenfleetError {
  readonly reason: FormatErrorReason;
  readonly offset: number;
  readonly layer: Layer;
  readonly recordType: number | undefined;
  readonly recordName: string | undefined;
  readonly expected: string;
  readonly actual: string | undefined;

  constructor(details: FormatErrorDetails) {
    const what =
      details.recordName !== undefined
        ? ` record ${details.recordName}` +
          (details.recordType !== undefined ? ` (0x${details.recordType.toString(16).padStart(8, "0")})` : "")
        : details.recordType !== undefined
          ? ` record 0x${details.recordType.toString(16).padStart(8, "0")}`
          : "";
    super(
      `${details.layer}${what} at offset ${details.offset}: ${details.reason}: expected ${details.expected}` +
        (details.actual !== undefined ? `, got ${details.actual}` : ""),
    );
    this.reason = details.reason;
    this.offset = details.offset;
    this.layer = details.layer;
    this.recordType = details.recordType;
    this.recordName = details.recordName;
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/** The stream's framing is wrong: a header, truncation, trailing bytes. */
export class StreamError extends FormatError {
  readonly code = "XF_FORMAT_STREAM";
}

/** One record is wrong: its length, its content, or its place in the stream. */
export class RecordError extends FormatError {
  readonly code = "XF_FORMAT_RECORD";
}

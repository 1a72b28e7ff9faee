import { XenfleetError } from "@xenfleet/core";

/**
 * Why a byte stream on the migration wire was refused. Stable strings, so
 * programs and tests can tell a bad checksum from a version we do not speak.
 */
export type WireErrorReason =
  | "bad-magic"
  | "unsupported-version"
  | "bad-byte-order"
  | "bad-header"
  | "oversize"
  | "unknown-frame-type"
  | "unknown-compression"
  | "checksum"
  | "decompress"
  | "sequence"
  | "truncated"
  | "unexpected-frame"
  | "bad-control";

/** A frame stream that is not ours, not our version, or damaged. Never retried as-is. */
export class WireFormatError extends XenfleetError {
  readonly code = "XF_MIGRATION_WIRE";
  constructor(
    readonly reason: WireErrorReason,
    /** Byte offset in the stream where the problem was found. */
    readonly offset: number,
    detail: string,
  ) {
    super(`migration stream refused at byte ${offset} (${reason}): ${detail}`);
  }
}

/** A connection presented no token, a wrong one, a used one or an expired one. */
export class TokenRejectedError extends XenfleetError {
  readonly code = "XF_MIGRATION_TOKEN";
  constructor(readonly reason: "unknown" | "used" | "expired") {
    super(`migration token refused: ${reason}`);
  }
}

/**
 * The migration did not complete: the peer went away, refused, or a phase
 * timed out. The domain stays (or is put back) running on the source.
 */
export class MigrationFailedError extends XenfleetError {
  readonly code = "XF_MIGRATION_FAILED";
  override readonly unrecoverable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The migration's outcome record in Redis says something this side cannot act on. */
export class OutcomeConflictError extends XenfleetError {
  readonly code = "XF_MIGRATION_OUTCOME";
  constructor(message: string) {
    super(message);
  }
}

/**
 * The one base class for every error xenfleet raises on purpose. Each subclass
 * carries a fixed string `code` so callers (and job results crossing Redis)
 * can tell failures apart without parsing messages, and says whether a retry
 * could help: a malformed stream or a corrupt object never gets better.
 *
 * Codes follow one scheme, `XF_<AREA>_<WHAT>` (e.g. `XF_STORE_NOT_FOUND`),
 * where AREA names the package or subsystem that raises it.
 */
export abstract class XenfleetError extends Error {
  abstract readonly code: string;
  /** True when retrying the same operation cannot succeed. */
  readonly unrecoverable: boolean = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Every error code matches this: XF, an area, then what happened, in capitals. */
export const ERROR_CODE_PATTERN = /^XF_[A-Z0-9]+_[A-Z0-9_]+$/;

/** An operation stopped because its abort signal fired (shutdown, cancel, a deadline). */
export class OperationAbortedError extends XenfleetError {
  readonly code = "XF_CORE_ABORTED";
  override readonly unrecoverable = false;
  constructor(
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation} aborted`, options);
  }
}

/** A size such as "64M" or "1.5 GiB" that does not parse. */
export class InvalidSizeError extends XenfleetError {
  readonly code = "XF_CORE_BAD_SIZE";
  constructor(readonly input: string) {
    super(`not a size: ${JSON.stringify(input.slice(0, 40))} (examples: 16M, 256MiB, 1.5 GiB, 4096)`);
  }
}

/** A duration such as "30s" or "7d" that does not parse. */
export class InvalidDurationError extends XenfleetError {
  readonly code = "XF_CORE_BAD_DURATION";
  constructor(readonly input: string) {
    super(`not a duration: ${JSON.stringify(input.slice(0, 40))} (examples: 500ms, 30s, 15m, 1h, 7d)`);
  }
}

/** A wait for a condition ran past its deadline. */
export class PollTimeoutError extends XenfleetError {
  readonly code = "XF_CORE_TIMEOUT";
  override readonly unrecoverable = false;
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
  }
}

import { XenfleetError } from "@xenfleet/core";

/**
 * Errors of the native addon. The C++ side throws plain errors carrying a
 * `code`; `fromNative` turns them into these classes so callers test with
 * `instanceof` or `code` and never parse messages.
 */

/** A kernel or libxl call was given a wrong argument (a caller bug). */
export class NativeArgumentError extends XenfleetError {
  readonly code = "XF_NATIVE_BAD_ARGUMENT";
}

/** A page delta that is not a well-formed version-1 delta (corrupt or hostile). */
export class DeltaFormatError extends XenfleetError {
  readonly code = "XF_NATIVE_BAD_DELTA";
  /** Byte offset in the delta where decoding stopped. */
  readonly offset: number;

  constructor(message: string, offset: number, options?: { cause?: unknown }) {
    super(message, options);
    this.offset = offset;
  }
}

/** This host cannot drive Xen: no hypervisor, no privileges, or a build without libxl. */
export class XenUnavailableError extends XenfleetError {
  readonly code = "XF_XEN_UNAVAILABLE";
}

/** Failure codes a retry cannot fix: the domain is gone or the request is wrong. */
const PERMANENT_LIBXL_ERRORS = new Set(["DOMAIN_NOTFOUND", "INVAL", "JSON_CONFIG_EMPTY", "NOTFOUND"]);

/** A libxl call failed on a host where Xen is present. */
export class LibxlError extends XenfleetError {
  readonly code = "XF_XEN_LIBXL_FAILED";
  override readonly unrecoverable: boolean;
  /** The xenfleet operation, e.g. "save", "restore". */
  readonly op: string;
  /** The libxl function that failed, e.g. "libxl_domain_suspend". */
  readonly step: string;
  /** libxl's return code (negative) and its name, e.g. -21 and "DOMAIN_NOTFOUND". */
  readonly rc: number;
  readonly rcName: string;

  constructor(
    message: string,
    details: { op: string; step: string; rc: number; rcName: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.op = details.op;
    this.step = details.step;
    this.rc = details.rc;
    this.rcName = details.rcName;
    this.unrecoverable = PERMANENT_LIBXL_ERRORS.has(details.rcName);
  }
}

type NativeError = Error & {
  code?: unknown;
  offset?: unknown;
  op?: unknown;
  step?: unknown;
  rc?: unknown;
  rcName?: unknown;
};

/** Maps an error thrown by the addon to its typed class; anything else passes through. */
export function fromNative(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const e = error as NativeError;
  switch (e.code) {
    case "XF_NATIVE_BAD_ARGUMENT":
      return new NativeArgumentError(e.message);
    case "XF_NATIVE_BAD_DELTA":
      return new DeltaFormatError(e.message, typeof e.offset === "number" ? e.offset : 0);
    case "XF_XEN_UNAVAILABLE":
      return new XenUnavailableError(e.message);
    case "XF_XEN_LIBXL_FAILED":
      return new LibxlError(e.message, {
        op: String(e.op),
        step: String(e.step),
        rc: typeof e.rc === "number" ? e.rc : -1,
        rcName: String(e.rcName),
      });
    default:
      return error;
  }
}

/** Runs a synchronous addon call, rethrowing its errors typed. */
export function callNative<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw fromNative(error);
  }
}

/** Awaits an asynchronous addon call (which may also throw at once), rethrowing typed. */
export async function callNativeAsync<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw fromNative(error);
  }
}

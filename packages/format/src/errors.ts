/**
 * The one base class for every error xenfleet raises on purpose. Each subclass
 * carries a fixed string `code` so callers (and job results crossing Redis)
 * can tell failures apart without parsing messages, and says whether a retry
 * could help: a malformed stream or a corrupt object never gets better.
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

import { XenfleetError } from "@xenfleet/core";

/** No domain with that domid, uuid or name on this host. */
export class DomainNotFoundError extends XenfleetError {
  readonly code = "XF_DOMAIN_NOT_FOUND";
  constructor(readonly domain: number | string) {
    super(`no domain ${JSON.stringify(domain)} on this host`);
  }
}

/**
 * A domain uuid that is not a GUID (8-4-4-4-12 hex digits). A uuid can come
 * from a stream's xl config, which anyone may have written, and backends
 * use it as a file name: nothing else is let through.
 */
export class BadDomainUuidError extends XenfleetError {
  readonly code = "XF_DOMAIN_BAD_UUID";
  constructor(readonly uuid: unknown) {
    super(`domain uuid ${describeUuid(uuid)} is not a GUID (8-4-4-4-12 hex digits)`);
  }
}

/** The uuid as a message shows it: short, and never more than 40 characters of whatever was given. */
function describeUuid(uuid: unknown): string {
  return typeof uuid === "string" ? JSON.stringify(uuid.slice(0, 40)) : `of type ${typeof uuid}`;
}

/** A restore would create a second domain with an existing uuid or name. */
export class DomainExistsError extends XenfleetError {
  readonly code = "XF_DOMAIN_EXISTS";
  constructor(
    readonly field: "uuid" | "name",
    readonly value: string,
  ) {
    super(`a domain with ${field} ${JSON.stringify(value)} already exists on this host`);
  }
}

/** Another operation (maybe in another process) holds the domain's lock. */
export class DomainBusyError extends XenfleetError {
  readonly code = "XF_DOMAIN_BUSY";
  override readonly unrecoverable = false;
  constructor(
    readonly lockPath: string,
    readonly holderPid: number | undefined,
  ) {
    super(`domain is busy: ${lockPath} held by pid ${holderPid ?? "unknown"}`);
  }
}

/** The host has not enough free memory for the domain. */
export class InsufficientMemoryError extends XenfleetError {
  readonly code = "XF_HYPERVISOR_NO_MEMORY";
  override readonly unrecoverable = false;
  constructor(
    readonly neededBytes: number,
    readonly freeBytes: number,
  ) {
    super(`host has ${freeBytes} bytes free, domain needs ${neededBytes}`);
  }
}

/**
 * A stream that parsed but cannot become a domain here: wrong guest type,
 * pages beyond the domain's memory, missing vCPU state. Decoding errors come
 * from @xenfleet/format with their own codes and byte offsets.
 */
export class StreamContentError extends XenfleetError {
  readonly code = "XF_HYPERVISOR_BAD_STREAM";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Live pre-copy did not converge within `timeoutMs` and the action was "abort". */
export class MigrationTimeoutError extends XenfleetError {
  readonly code = "XF_HYPERVISOR_PRECOPY_TIMEOUT";
  override readonly unrecoverable = false;
  constructor(
    readonly timeoutMs: number,
    readonly iterations: number,
  ) {
    super(`pre-copy did not converge within ${timeoutMs} ms (${iterations} iterations)`);
  }
}

/** A migration handle was used twice or out of order. */
export class MigrationStateError extends XenfleetError {
  readonly code = "XF_HYPERVISOR_MIGRATION_STATE";
  constructor(message: string) {
    super(message);
  }
}

/** A sim state directory that is not one, or of a version this code does not speak. */
export class SimStateError extends XenfleetError {
  readonly code = "XF_SIM_BAD_STATE";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The backend cannot do this operation (e.g. the native addon binds no call for it). */
export class NotSupportedError extends XenfleetError {
  readonly code = "XF_HYPERVISOR_UNSUPPORTED";
  constructor(
    readonly backend: string,
    readonly operation: string,
    reason: string,
  ) {
    super(`${backend} backend cannot ${operation}: ${reason}`);
  }
}

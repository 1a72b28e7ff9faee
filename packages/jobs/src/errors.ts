import { XenfleetError } from "@xenfleet/core";

/**
 * A job payload (or a job result) this process does not understand: wrong
 * shape, a version it does not speak, or a job type the queue does not take.
 * Retrying cannot change the bytes in Redis, so it is unrecoverable.
 */
export class InvalidJobError extends XenfleetError {
  readonly code = "XF_JOB_INVALID";
  constructor(
    readonly jobType: string,
    readonly version: unknown,
    readonly reason: string,
  ) {
    super(`invalid ${jobType} job (${describeVersion(version)}): ${reason}`);
  }
}

/**
 * The version field as a message shows it: a number as itself, anything else
 * only by its type. The field comes from whatever wrote the job, and a
 * message is logged and copied into Redis: it must stay short and must not
 * echo values.
 */
function describeVersion(version: unknown): string {
  if (typeof version === "number") return `v${String(version)}`;
  return `v: ${version === null ? "null" : Array.isArray(version) ? "array" : typeof version}`;
}

/** A host id that could break out of its place in a key or queue name. */
export class InvalidHostIdError extends XenfleetError {
  readonly code = "XF_HOST_BAD_ID";
  constructor(readonly hostId: string) {
    super(
      `invalid host id ${JSON.stringify(hostId.slice(0, 80))}: ` +
        "use 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
    );
  }
}

/** Service configuration that cannot work; the message never repeats secret values. */
export class ConfigError extends XenfleetError {
  readonly code = "XF_CONFIG_INVALID";
}

/** A job id that no queue holds (never added, or removed since). */
export class JobNotFoundError extends XenfleetError {
  readonly code = "XF_JOB_NOT_FOUND";
  constructor(
    readonly queue: string,
    readonly jobId: string,
  ) {
    super(`no job ${jobId} on queue ${queue}`);
  }
}

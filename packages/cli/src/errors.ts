/**
 * The errors the command line raises itself, and the one mapping from any
 * error to an exit code. Scripts and cron tell outcomes apart by the code:
 *
 *   0  success
 *   1  the work ran and some of it failed (a batch with failures, a verify
 *      that found corruption, a job that failed); also an unexpected error
 *   2  usage: a bad flag or value, an unknown subject (command, host,
 *      domain, image, file, schedule)
 *   3  a dependency could not be reached: Redis, the store, a host
 */
import { XenfleetError } from "@xenfleet/core";
import { describeRedis, parseRedisUrl } from "@xenfleet/jobs";
import { CommanderError } from "commander";

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

/** A flag, value or combination the command cannot use. */
export class UsageError extends XenfleetError {
  readonly code = "XF_CLI_USAGE";
}

/** A subject named on the command line that does not exist: a host, domain, image, file, schedule. */
export class NotFoundError extends XenfleetError {
  readonly code = "XF_CLI_NOT_FOUND";
  constructor(
    readonly kind: string,
    readonly subject: string,
    message = `no ${kind} ${JSON.stringify(subject)}`,
  ) {
    super(message);
  }
}

/** Nothing answered at a Redis URL (the password never appears). */
export class RedisUnreachableError extends XenfleetError {
  readonly code = "XF_CLI_REDIS_UNREACHABLE";
  override readonly unrecoverable = false;
  constructor(url: string, reason?: string) {
    super(`cannot reach Redis at ${describeRedis(parseRedisUrl(url))}${reason === undefined ? "" : ` (${reason})`}`);
  }
}

/** A host that is registered but down (its heartbeat lapsed): it gets no new work. */
export class HostDownError extends XenfleetError {
  readonly code = "XF_CLI_HOST_DOWN";
  override readonly unrecoverable = false;
  constructor(readonly host: string) {
    super(`host ${host} is down (its heartbeat lapsed); it gets no new work`);
  }
}

/**
 * A restore would give a second domain a uuid the fleet already runs: two
 * domains with one uuid would share one image history, and a migration onto
 * the host holding the twin fails. `--new-uuid` makes a copy with its own.
 */
export class UuidInUseError extends XenfleetError {
  readonly code = "XF_CLI_UUID_IN_USE";
  constructor(
    readonly uuid: string,
    readonly host: string,
    readonly domain: string,
  ) {
    super(
      `domain ${uuid} already runs on ${host} (as ${domain}); restore with --new-uuid for a copy with its own uuid and name`,
    );
  }
}

/**
 * Work that ran and failed in part, with its report: printed as the
 * command's result (with `ok: false` and the error), exit code 1.
 */
export interface FailedReport {
  readonly report: Record<string, unknown>;
  readonly text: string;
}

/**
 * Work the command started or waited for ran and failed (a job, a batch, a
 * migration), with the report of what it did when there is one.
 */
export class WorkFailedError extends XenfleetError {
  readonly code = "XF_CLI_WORK_FAILED";
  constructor(
    message: string,
    readonly failed?: FailedReport,
  ) {
    super(message);
  }
}

/** An output file that cannot be written where it was asked for (no such directory, no permission). */
export class CannotWriteError extends XenfleetError {
  readonly code = "XF_CLI_CANNOT_WRITE";
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`cannot write ${path}: ${reason}`);
  }
}

/** Codes of errors that mean the command line was wrong: exit code 2. */
const USAGE_CODES = new Set([
  "XF_CLI_USAGE",
  "XF_CLI_NOT_FOUND",
  "XF_CLI_CANNOT_WRITE",
  "XF_CLI_UUID_IN_USE",
  "XF_CORE_BAD_SIZE",
  "XF_CORE_BAD_DURATION",
  "XF_STORE_BAD_URL",
  "XF_STORE_BAD_CONTENT_ID",
  "XF_IMAGE_USAGE",
  "XF_IMAGE_NOT_FOUND",
  "XF_HOST_BAD_ID",
  "XF_HOST_UNKNOWN",
  "XF_DOMAIN_NOT_FOUND",
  "XF_CONFIG_INVALID",
  "XF_SCHEDULE_BAD_CRON",
  "XF_KEY_MISSING",
  "XF_KEY_WRONG",
  "XF_KEY_FILE",
  "XF_KEY_PLAIN_STORE",
  "XF_KEY_REFUSED",
  "XF_STORE_EXISTS",
]);

/** Codes of errors that mean a dependency could not be reached: exit code 3. */
const UNREACHABLE_CODES = new Set([
  "XF_CLI_REDIS_UNREACHABLE",
  "XF_CLI_HOST_DOWN",
  "XF_STORE_MISSING",
  "XF_STORE_UNAVAILABLE",
  "XF_STORE_REFUSED",
  "XF_XEN_UNAVAILABLE",
]);

/** The code an error carries (XenfleetErrors, and the few coded errors that are not), if any. */
export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("XF_") ? code : undefined;
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  const code = codeOf(error);
  if (code !== undefined && USAGE_CODES.has(code)) return EXIT.usage;
  if (code !== undefined && UNREACHABLE_CODES.has(code)) return EXIT.unreachable;
  return EXIT.failed;
}

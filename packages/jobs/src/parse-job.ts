/**
 * Reading and writing job data through the schemas. A worker never touches
 * `job.data` before it has passed through `parseJob`.
 */
import type { z } from "zod";
import { InvalidJobError } from "./errors.js";
import {
  isJobType,
  JOB_SPECS,
  type JobPayload,
  type JobProgress,
  type JobResult,
  type JobSpec,
  type JobType,
  type ProgressJobType,
  type UpgradeContext,
} from "./job-types.js";
import { STORE_NAME_PATTERN } from "./schemas/common.js";

/**
 * The typed payload of a `type` job, or InvalidJobError saying why not. An
 * older version is upgraded; `ctx` answers what the upgrade asks of the
 * reader (a worker passes its stores). Without it, an old payload naming
 * its store by URL cannot be read: only a worker knows which URLs are its
 * stores.
 */
export function parseJob<T extends JobType>(type: T, data: unknown, ctx?: UpgradeContext): JobPayload<T> {
  return parseVersioned(type, "payload", data, ctx) as JobPayload<T>;
}

/** The typed result of a `type` job (a parent reading its children), or InvalidJobError. */
export function parseResult<T extends JobType>(type: T, data: unknown): JobResult<T> {
  return parseVersioned(type, "result", data) as JobResult<T>;
}

/** Parse data for a job known only by its BullMQ name. */
export function parseJobByName(name: string, data: unknown, ctx?: UpgradeContext): JobPayload<JobType> {
  if (!isJobType(name)) {
    throw new InvalidJobError(name.slice(0, 64), versionOf(data), "unknown job type");
  }
  return parseJob(name, data, ctx);
}

/**
 * Build job data for `type` at the current version, checked before it goes to
 * Redis: a producer bug shows up at the producer, not in a worker hours later.
 */
export function jobData<T extends JobType>(type: T, fields: Omit<JobPayload<T>, "v">): JobPayload<T> {
  return parseJob(type, { ...fields, v: JOB_SPECS[type].version });
}

/** A result at the current version, checked. */
export function jobResult<T extends JobType>(type: T, fields: Omit<JobResult<T>, "v">): JobResult<T> {
  return parseResult(type, { ...fields, v: JOB_SPECS[type].resultVersion });
}

function parseVersioned(type: JobType, what: "payload" | "result", data: unknown, ctx?: UpgradeContext): unknown {
  const spec: JobSpec = JOB_SPECS[type];
  const current = what === "payload" ? spec.version : spec.resultVersion;
  const v = versionOf(data);
  // The version is checked before the shape: a newer payload may look
  // "almost valid" to an older schema, and that is exactly the misreading a
  // mixed-version fleet must never do.
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new InvalidJobError(type, v, `${what} has no valid version field "v"`);
  }
  if (v > current) {
    throw new InvalidJobError(
      type,
      v,
      `${what} version ${v} is newer than this worker understands (it speaks v${current}); ` + "upgrade this worker",
    );
  }
  if (v < current) {
    if (what === "result") {
      const previous = spec.previousResult;
      if (previous === undefined || previous.version !== v)
        throw new InvalidJobError(type, v, `${what} version ${v} is no longer supported (current is v${current})`);
      return checked(
        type,
        v,
        what,
        spec.result,
        previous.upgrade(checked(type, v, what, previous.result, data) as never),
      );
    }
    const previous = spec.previous?.find((p) => p.version === v);
    if (previous === undefined) {
      throw new InvalidJobError(type, v, `${what} version ${v} is no longer supported (current is v${current})`);
    }
    const old = checked(type, v, what, previous.payload, data);
    return checked(type, v, what, spec.payload, previous.upgrade(old as never, ctx ?? namesOnly(type, v)));
  }
  return checked(type, v, what, spec[what], data);
}

function checked(type: JobType, v: number, what: "payload" | "result", schema: z.ZodType, data: unknown): unknown {
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new InvalidJobError(type, v, `${what} does not match the schema: ${describeIssues(parsed.error.issues)}`);
  }
  return parsed.data;
}

/** A reader without stores: it takes an old payload's store name, never a URL. */
function namesOnly(type: JobType, v: number): UpgradeContext {
  return {
    storeName(ref) {
      if (STORE_NAME_PATTERN.test(ref)) return ref;
      throw new InvalidJobError(
        type,
        v,
        "the payload names its store by URL; only a worker configured with that store reads it",
      );
    },
  };
}

function versionOf(data: unknown): unknown {
  return typeof data === "object" && data !== null ? (data as { v?: unknown }).v : undefined;
}

/** "domain.uuid: Invalid GUID; mode: Invalid option ..." (issue paths, never input values). */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 10)
    .map((i) => `${i.path.length ? i.path.map(String).join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}

/**
 * A job's progress at the current version, checked before it is written: a
 * reader in another process (the CLI, the dashboard, a retry of the job)
 * must be able to parse it.
 */
export function jobProgress<T extends ProgressJobType>(type: T, fields: Omit<JobProgress<T>, "v">): JobProgress<T> {
  const spec: JobSpec = JOB_SPECS[type];
  return spec.progress!.parse({ ...fields, v: 1 }) as JobProgress<T>;
}

/**
 * A job's progress as this code understands it, or undefined: none yet, a
 * bare number, a version this code does not speak or a shape it does not
 * know. Progress is advisory, so it is ignored rather than misread.
 */
export function parseProgress<T extends ProgressJobType>(type: T, data: unknown): JobProgress<T> | undefined {
  const spec: JobSpec = JOB_SPECS[type];
  const parsed = spec.progress?.safeParse(data);
  return parsed?.success ? (parsed.data as JobProgress<T>) : undefined;
}

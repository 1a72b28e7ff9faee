/**
 * Recurring controller work, as BullMQ job schedulers on the controller
 * queue: each scheduler adds one job per tick from a template, and survives
 * controller restarts because it lives in Redis. Upserting is idempotent, so
 * every controller (and the CLI) may set a schedule without duplicating it.
 */
import { XenfleetError } from "@xenfleet/core";
import { Queue } from "bullmq";
import { CronExpressionParser } from "cron-parser";
import { bullPrefix, CONTROLLER_QUEUE, JOB_SPECS, jobData, type JobPayload, type RedisClient } from "@xenfleet/jobs";
import { z } from "zod";

export const SCHEDULES = { nightly: "nightly", retention: "retention", gc: "gc", verify: "verify" } as const;
export type ScheduleId = keyof typeof SCHEDULES;

/**
 * A cron pattern ("0 2 * * *") or a fixed interval in milliseconds. An
 * interval's first run is one interval from now, unless `now` asks for one
 * at once.
 */
export type Repeat = { cron: string; tz?: string } | { everyMs: number; now?: boolean };

/** A cron pattern (or time zone) the scheduler would refuse, or misread. */
export class InvalidCronError extends XenfleetError {
  readonly code = "XF_SCHEDULE_BAD_CRON";
  constructor(
    readonly expression: string,
    detail: string,
  ) {
    super(`not a cron expression: ${JSON.stringify(expression)} (${detail})`);
  }
}

/**
 * Checks a cron pattern as BullMQ's scheduler will read it (cron-parser, the
 * parser it uses), and the time zone, before anything is scheduled: 5 fields
 * (minute hour day month weekday), 6 with seconds first, or an alias such as
 * "@daily". Throws InvalidCronError naming the expression.
 */
export function checkCron(expression: string, tz?: string): void {
  const fields = expression.trim().split(/\s+/);
  if (!(fields.length === 5 || fields.length === 6 || (fields.length === 1 && fields[0]!.startsWith("@"))))
    throw new InvalidCronError(expression, `${fields.length} fields; use 5 (minute hour day month weekday) or 6`);
  try {
    CronExpressionParser.parse(expression, tz === undefined ? {} : { tz }).next();
  } catch (err) {
    const detail = (err as Error).message;
    throw new InvalidCronError(
      expression,
      tz !== undefined && /timestamp|zone/i.test(detail) ? `time zone ${JSON.stringify(tz)}: ${detail}` : detail,
    );
  }
}

/** A cron pattern in a service's configuration, checked like checkCron. */
export const cronSchema = z.string().superRefine((text, ctx) => {
  try {
    checkCron(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});

/** The batch id a nightly template carries; each run gets its own id derived from it. */
export const NIGHTLY_BATCH = "nightly";

export interface ScheduleInfo {
  id: string;
  name: string;
  pattern?: string;
  every?: number;
  next?: number;
}

function controllerQueue(redis: RedisClient, prefix: string): Queue {
  return new Queue(CONTROLLER_QUEUE, { connection: redis, prefix: bullPrefix(prefix) });
}

function repeatOptions(repeat: Repeat): { pattern: string; tz?: string } | { every: number; startDate?: number } {
  if ("everyMs" in repeat)
    return repeat.now ? { every: repeat.everyMs } : { every: repeat.everyMs, startDate: Date.now() + repeat.everyMs };
  checkCron(repeat.cron, repeat.tz);
  return repeat.tz === undefined ? { pattern: repeat.cron } : { pattern: repeat.cron, tz: repeat.tz };
}

/** The nightly batch save of every domain on every host that is up (or only on `hosts`). */
export async function scheduleNightly(
  redis: RedisClient,
  prefix: string,
  repeat: Repeat,
  template: { store: string; mode: "checkpoint" | "live" | "suspend"; labels?: string[]; hosts?: string[] },
): Promise<void> {
  const data = jobData("batch-save", {
    batchId: NIGHTLY_BATCH,
    store: template.store,
    mode: template.mode,
    labels: template.labels ?? ["nightly"],
    total: 0,
    ...(template.hosts !== undefined ? { hosts: template.hosts } : {}),
  });
  await upsert(redis, prefix, "nightly", repeat, "batch-save", data);
}

export async function scheduleRetention(
  redis: RedisClient,
  prefix: string,
  repeat: Repeat,
  data: Omit<JobPayload<"retention">, "v">,
): Promise<void> {
  await upsert(redis, prefix, "retention", repeat, "retention", jobData("retention", data));
}

export async function scheduleGc(
  redis: RedisClient,
  prefix: string,
  repeat: Repeat,
  data: Omit<JobPayload<"gc">, "v">,
): Promise<void> {
  await upsert(redis, prefix, "gc", repeat, "gc", jobData("gc", data));
}

/** The run id a verify template carries; each run gets its own id derived from it. */
export const VERIFY_RUN = "verify";

/** A verify run of one store: every image not verified within the window, read and hashed by the compress workers. */
export async function scheduleVerify(
  redis: RedisClient,
  prefix: string,
  repeat: Repeat,
  template: Omit<JobPayload<"verify-run">, "v" | "runId">,
): Promise<void> {
  await upsert(
    redis,
    prefix,
    "verify",
    repeat,
    "verify-run",
    jobData("verify-run", { runId: VERIFY_RUN, ...template }),
  );
}

async function upsert(
  redis: RedisClient,
  prefix: string,
  id: ScheduleId,
  repeat: Repeat,
  name: "batch-save" | "retention" | "gc" | "verify-run",
  data: unknown,
): Promise<void> {
  const queue = controllerQueue(redis, prefix);
  try {
    const { attempts, backoff, removeOnComplete, removeOnFail } = JOB_SPECS[name].options;
    await queue.upsertJobScheduler(SCHEDULES[id], repeatOptions(repeat), {
      name,
      data,
      opts: { attempts, backoff, removeOnComplete, removeOnFail },
    });
  } finally {
    await queue.close();
  }
}

export async function removeSchedule(redis: RedisClient, prefix: string, id: ScheduleId): Promise<boolean> {
  const queue = controllerQueue(redis, prefix);
  try {
    return await queue.removeJobScheduler(SCHEDULES[id]);
  } finally {
    await queue.close();
  }
}

export async function listSchedules(redis: RedisClient, prefix: string): Promise<ScheduleInfo[]> {
  const queue = controllerQueue(redis, prefix);
  try {
    return (await queue.getJobSchedulers(0, -1, true)).map((s) => ({
      id: s.key,
      name: s.name,
      ...(s.pattern ? { pattern: s.pattern } : {}),
      ...(s.every ? { every: Number(s.every) } : {}),
      ...(s.next !== undefined ? { next: s.next } : {}),
    }));
  } finally {
    await queue.close();
  }
}

/**
 * What a running job reports as its BullMQ progress, one versioned schema per
 * job type that reports any. Progress crosses processes (the controller
 * writes an evacuation's, the CLI and the dashboard read it), so it is held
 * to the same rule as payloads and results: written with a version, read
 * only when the version and shape are understood, never guessed at.
 */
import { z } from "zod";
import { bytes, domainRef, domainUuid, hostIdSchema, reason, token } from "./common.js";

const v1 = z.literal(1);

/**
 * A scheduled batch's expansion, left on the job by its first run for its
 * second (which writes the report): the batch's own id, the saves it queued
 * and the domains it could not save.
 */
export const batchSaveProgressV1 = z.strictObject({
  v: v1,
  batchId: token,
  total: z.int().min(0).max(100_000),
  skipped: z.array(z.strictObject({ host: hostIdSchema, domain: domainRef, reason })).max(1000),
  duplicates: z.array(z.strictObject({ uuid: domainUuid, hosts: z.array(hostIdSchema).max(256) })).max(1000),
  /** When this run began (ms since the epoch); its batch id derives from it. */
  startedAt: z.int().min(0).optional(),
  /** False while the saves are being queued: a run that crashed then expands again under the same id. */
  expanded: z.boolean().optional(),
});

/** One domain of an evacuation. */
export const evacuationDomainProgressV1 = z.strictObject({
  uuid: domainUuid,
  name: domainRef.shape.name,
  source: hostIdSchema,
  target: hostIdSchema.optional(),
  state: z.enum(["queued", "migrating", "done", "failed"]),
  percent: z.int().min(0).max(100).optional(),
  /** Memory bytes the current attempt's send has sent, of the domain's memory (from its migrate-send progress). */
  bytes: bytes.optional(),
  memoryBytes: bytes.optional(),
  attempts: z.int().min(0).max(100),
  reason: reason.optional(),
  /** How the current attempt moves it: live, or cold through the store (the fallback once no live target is left). */
  mode: z.enum(["live", "cold"]).optional(),
});

export const evacuateProgressV1 = z.strictObject({
  v: v1,
  evacuationId: token,
  total: z.int().min(0).max(100_000),
  done: z.int().min(0).max(100_000),
  failed: z.int().min(0).max(100_000),
  domains: z.array(evacuationDomainProgressV1).max(100_000),
});

/** A live migration's send side: memory copied so far. */
export const migrateSendProgressV1 = z.strictObject({
  v: v1,
  phase: z.literal("migrating"),
  percent: z.int().min(0).max(100),
  /** Memory bytes sent so far, pre-copy iterations included. */
  bytes: bytes.optional(),
  /** The domain's memory. */
  memoryBytes: bytes.optional(),
});

/**
 * A restore: "building" claims the domain before it is built, so that a retry
 * after a crash knows a domain with the image's uuid as its own.
 */
export const restoreProgressV1 = z.strictObject({
  v: v1,
  phase: z.literal("building"),
  bytes: bytes.optional(),
  totalBytes: bytes.optional(),
});

/**
 * A verify run's expansion, left on the job by its first run for its second
 * (which writes the report): the run's id, when it began, and how many
 * images it queued and skipped.
 */
export const verifyRunProgressV1 = z.strictObject({
  v: v1,
  runId: token,
  startedAt: z.int().min(0),
  images: z.int().min(0).max(1_000_000),
  queued: z.int().min(0).max(1_000_000),
  skippedRecent: z.int().min(0).max(1_000_000),
  /** Health checks queued (the newest image of each domain), with a health check host. */
  healthChecks: z.int().min(0).max(1_000_000).optional(),
  /** False while the verify jobs are being queued: a run that crashed then expands again under the same id. */
  expanded: z.boolean(),
});

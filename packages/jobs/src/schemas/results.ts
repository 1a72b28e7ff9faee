/**
 * Job results, one schema per job type. Results cross Redis too (a batch
 * parent reads its children's), so they are versioned and strict like payloads.
 */
import { z } from "zod";
import {
  bytes,
  domainRef,
  domainUuid,
  hostIdSchema,
  imageId,
  nonNegativeInt,
  reason,
  seconds,
  token,
} from "./common.js";

const v1 = z.literal(1);

export const saveResultV1 = z.strictObject({
  v: v1,
  imageId,
  /** Size of the whole stream the image reproduces. */
  bytesTotal: bytes,
  /** Bytes this save added to the store (what dedup could not skip). */
  bytesNew: bytes,
  /** How long the domain was paused. */
  pausedMs: nonNegativeInt,
  seconds,
  /** The domain's latest image, unreadable, so not the parent: this image is a full one. */
  parentSkipped: z.strictObject({ id: imageId, reason }).optional(),
});

/**
 * v2: `pausedMs` only when measured. A backend that cannot tell when the
 * domain paused (Xen's live save: libxl does not say) leaves it out rather
 * than report the whole save's duration.
 */
export const saveResultV2 = saveResultV1.extend({
  v: z.literal(2),
  pausedMs: nonNegativeInt.optional(),
});

export const restoreResultV1 = z.strictObject({
  v: v1,
  domain: domainRef,
  bytesRestored: bytes,
  seconds,
});

export const compressResultV1 = z.strictObject({
  v: v1,
  imageId,
  bytesIn: bytes,
  bytesOut: bytes,
  seconds,
});

const notSavedDomain = z.strictObject({ host: hostIdSchema, domain: domainRef, reason });

const saveOutcome = z.strictObject({
  host: hostIdSchema,
  /** Uuid of the domain the child saved. */
  domain: domainUuid,
  /** The image written, when the save succeeded. */
  imageId: imageId.optional(),
  /** Why the save failed, when it did. */
  error: reason.optional(),
});

export const batchSaveResultV1 = z.strictObject({
  v: v1,
  batchId: token,
  total: nonNegativeInt,
  succeeded: nonNegativeInt,
  failed: nonNegativeInt,
  bytesNew: bytes,
  outcomes: z.array(saveOutcome).max(100_000),
  /** Domains the batch did not try to save (their host was down), with the reason; not failures of the batch. */
  notSaved: z.array(notSavedDomain).max(1000).optional(),
  /** When the batch began (ms since the epoch): a scheduled run's own start, not its job's creation. */
  startedAt: z.int().min(0).optional(),
});

export const migrateSendResultV1 = z.strictObject({
  v: v1,
  /** Live: bytes on the wire (frames and headers, after compression). Cold: what the move's image added to the store. */
  bytesSent: bytes,
  iterations: nonNegativeInt,
  downtimeMs: nonNegativeInt,
  seconds,
  /** Save-image bytes carried: the stream before compression (live), the whole image (cold). */
  bytesRaw: bytes.optional(),
  compressionRatio: z.number().min(0).max(1e6).optional(),
  /** Why pre-copy stopped. */
  stopReason: z.enum(["max-iterations", "dirty-threshold", "downtime-target", "timeout"]).optional(),
  mode: z.enum(["live", "cold"]).optional(),
});

/**
 * v2: `downtimeMs` only when measured. Xen's libxl pauses the source for its
 * final pass without saying when, so a xen migration's downtime is unknown,
 * and left out rather than reported short.
 */
export const migrateSendResultV2 = migrateSendResultV1.extend({
  v: z.literal(2),
  downtimeMs: nonNegativeInt.optional(),
});

export const migrateRecvResultV1 = z.strictObject({
  v: v1,
  domain: domainRef,
  bytesReceived: bytes,
  seconds,
});

/** One failed attempt at moving a domain of an evacuation: where to, how, and why it failed (the target's own reason when it gave one). */
const evacuationTry = z.strictObject({ target: hostIdSchema, mode: z.enum(["live", "cold"]), reason });

export const evacuateResultV1 = z.strictObject({
  v: v1,
  evacuationId: token,
  moved: nonNegativeInt,
  cold: nonNegativeInt,
  failed: z
    .array(
      z.strictObject({
        host: hostIdSchema,
        domain: domainRef,
        error: reason,
        tries: z.array(evacuationTry).max(64).optional(),
      }),
    )
    .max(100_000),
  /** Where every moved domain runs now. */
  placements: z
    .array(
      z.strictObject({
        domain: domainRef,
        from: hostIdSchema,
        to: hostIdSchema,
        mode: z.enum(["live", "cold"]),
        attempts: nonNegativeInt,
        /** The attempts that failed before this one succeeded. */
        tries: z.array(evacuationTry).max(64).optional(),
      }),
    )
    .max(100_000)
    .optional(),
  /** Hosts left with no domain of theirs unmoved; the others are not empty. */
  emptied: z.array(hostIdSchema).max(256).optional(),
  notEmpty: z
    .array(z.strictObject({ host: hostIdSchema, remaining: nonNegativeInt }))
    .max(256)
    .optional(),
  seconds: seconds.optional(),
});

export const retentionResultV1 = z.strictObject({
  v: v1,
  kept: nonNegativeInt,
  dropped: nonNegativeInt,
});

export const gcResultV1 = z.strictObject({
  v: v1,
  objectsDeleted: nonNegativeInt,
  bytesFreed: bytes,
});

/** The object at fault in a verification that failed, and why. */
const verifyProblem = z.strictObject({ key: z.string().max(1024), reason });

export const verifyResultV1 = z.strictObject({
  v: v1,
  imageId,
  ok: z.boolean(),
  /** Bytes read and checked. */
  bytes,
  seconds,
  problem: verifyProblem.optional(),
});

export const verifyRunResultV1 = z.strictObject({
  v: v1,
  runId: token,
  /** Images the store held when the run began. */
  images: nonNegativeInt,
  /** Images this run verified (ok or broken), and those skipped as verified within the window. */
  verified: nonNegativeInt,
  skippedRecent: nonNegativeInt,
  /** Of those, the images found intact. */
  intact: nonNegativeInt,
  broken: z.array(z.strictObject({ imageId, ...verifyProblem.shape })).max(100_000),
  /** Verify jobs that failed without a verdict (the store unreachable, say). */
  failed: z.array(z.strictObject({ imageId, reason })).max(100_000),
  /** When the run ends: images with no verification within the window (none ever, without one). */
  unverified: nonNegativeInt,
  /** Images whose last verification found them broken, this run's and earlier ones. */
  brokenTotal: nonNegativeInt,
  startedAt: z.int().min(0),
  /** With a health check host: the newest images of the domains that passed, and those that failed (or could not run) and why. */
  healthChecks: z
    .strictObject({
      passed: nonNegativeInt,
      failed: z.array(z.strictObject({ imageId, reason })).max(100_000),
    })
    .optional(),
});

export const healthCheckResultV1 = z.strictObject({
  v: v1,
  imageId,
  passed: z.boolean(),
  /** Why it failed, when it did. */
  reason: reason.optional(),
  /** The copy's state digest against the save's: matched, differs, not-recorded or not-readable (Xen). */
  digest: z.enum(["matched", "differs", "not-recorded", "not-readable"]),
  seconds,
  /** The copy made and destroyed. */
  copy: domainRef,
});

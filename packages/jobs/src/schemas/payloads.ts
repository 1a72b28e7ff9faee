/**
 * Job payloads, one schema per job type, each at its current version. A
 * payload is a strict object: a field this version does not know is refused
 * rather than silently dropped, so adding a field means a new version (see
 * the README, "Changing a payload").
 */
import { z } from "zod";
import {
  domainName,
  domainRef,
  domainUuid,
  hostIdSchema,
  imageId,
  labels,
  storeName,
  storeRef,
  token,
} from "./common.js";

const v1 = z.literal(1);
const v2 = z.literal(2);

/** Optional live-migration tuning shared by migrate-send and evacuate payloads. */
const migrateTuning = {
  /** Per-frame compression on the wire (default: lz4 when `compress`, else none). */
  compression: z.enum(["none", "lz4", "zstd"]).optional(),
  /** Bytes per second on the wire for this migration. */
  bandwidth: z.int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  /** Stop pre-copy once the rest can be sent within this many ms at the measured rate. */
  maxDowntimeMs: z.int().min(1).max(3_600_000).optional(),
  /** Bound on the pre-copy phase, and what to do when it runs out. */
  timeoutMs: z.int().min(1).max(86_400_000).optional(),
  timeoutAction: z.enum(["abort", "force"]).optional(),
};

/** How a domain is saved; a worker refuses a mode it does not know. */
const saveMode = z.enum(["checkpoint", "live", "suspend"]);

/** Save one domain on its host into the store. */
export const savePayloadV1 = z.strictObject({
  v: v1,
  host: hostIdSchema,
  domain: domainRef,
  store: storeRef,
  /**
   * checkpoint: paused while saved, then keeps running; live: pre-copy while
   * it runs, paused only for the final pass; suspend: saved and stopped.
   */
  mode: saveMode,
  /** Retention classes this image counts for (e.g. "nightly"). */
  labels,
  /** Queue a compress job for the new image once it is committed. */
  compress: z.boolean(),
  /** Set when the save is one child of a batch. */
  batchId: token.optional(),
});

/** Restore an image onto a host as a domain. */
export const restorePayloadV1 = z.strictObject({
  v: v1,
  host: hostIdSchema,
  store: storeRef,
  image: imageId,
  /** Name for the restored domain; the image's own name when absent. */
  name: domainName.optional(),
  /** Leave the domain paused after restore (cold migration resumes it later). */
  paused: z.boolean(),
});

/** Rewrite an image's raw data compressed. Any compress worker may take it. */
export const compressPayloadV1 = z.strictObject({
  v: v1,
  store: storeRef,
  image: imageId,
  algorithm: z.enum(["zstd"]),
  level: z.int().min(1).max(22),
});

/**
 * The parent of a batch-save flow. Its children are save jobs on the hosts'
 * queues; the controller processes it after they have all finished and writes
 * the batch report from their results.
 */
export const batchSavePayloadV1 = z.strictObject({
  v: v1,
  batchId: token,
  store: storeRef,
  mode: saveMode,
  labels,
  /** How many save children the flow was built with. */
  total: z.int().min(0).max(100_000),
});

/**
 * v2 adds the hosts filter: the batch saves only the domains of these hosts
 * (every host that is up when absent). The filter travels in the payload so
 * that whoever expands the batch (the CLI, or the controller for a scheduled
 * run) applies the same one.
 */
export const batchSavePayloadV2 = batchSavePayloadV1.extend({
  v: z.literal(2),
  hosts: z.array(hostIdSchema).min(1).max(256).optional(),
});

/** Source side of a migration: stream the domain to the target host. */
export const migrateSendPayloadV1 = z.strictObject({
  v: v1,
  migrationId: token,
  host: hostIdSchema,
  target: hostIdSchema,
  domain: domainRef,
  /**
   * live: pre-copy over TCP to the receiver, whose address and one-time token
   * the receiver publishes under the migration's key (never in the payload).
   */
  mode: z.enum(["live", "cold"]),
  compress: z.boolean(),
  ...migrateTuning,
  /** Cold migration: the store the image goes through. */
  store: storeRef.optional(),
  /** Set when the migration is one move of an evacuation. */
  evacuationId: token.optional(),
});

/** Target side of a live migration: listen, authenticate, receive, resume. */
export const migrateRecvPayloadV1 = z.strictObject({
  v: v1,
  migrationId: token,
  host: hostIdSchema,
  source: hostIdSchema,
  domain: domainRef,
  /** Memory the domain needs; the receiver refuses early when it lacks room. */
  memoryBytes: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** live (default): listen for the sender; cold: restore the image the sender put in `store`. */
  mode: z.enum(["live", "cold"]).optional(),
  store: storeRef.optional(),
  evacuationId: token.optional(),
});

/** Empty the given hosts: place every domain elsewhere and migrate it. */
export const evacuatePayloadV1 = z.strictObject({
  v: v1,
  evacuationId: token,
  hosts: z.array(hostIdSchema).min(1).max(256),
  limits: z.strictObject({
    perSource: z.int().min(1).max(64),
    perTarget: z.int().min(1).max(64),
    total: z.int().min(1).max(4096),
  }),
  /** When no host can take a domain live, save it and restore it elsewhere via this store. */
  coldVia: storeRef.optional(),
  /** Move every domain cold (through `coldVia`), even when a live path exists. */
  cold: z.boolean().optional(),
  /** Placement rules: domains of one group never share a host; domains needing tags. */
  antiAffinity: z
    .array(z.array(z.string().min(1).max(128)).max(4096))
    .max(256)
    .optional(),
  requireTags: z
    .array(z.strictObject({ domain: z.string().min(1).max(128), tags: labels }))
    .max(4096)
    .optional(),
  /** Tries per domain, each on another target (default 3). */
  maxAttempts: z.int().min(1).max(10).optional(),
  ...migrateTuning,
});

/** Drop images that no retention rule keeps. */
export const retentionPayloadV1 = z.strictObject({
  v: v1,
  store: storeRef,
  keep: z.strictObject({
    nightly: z.int().min(0).max(3650),
    weekly: z.int().min(0).max(520),
  }),
  /** Only this domain's images; every domain when absent. */
  domain: domainRef.shape.uuid.optional(),
  dryRun: z.boolean(),
});

/** Sweep store objects no ref reaches, older than the grace period. */
export const gcPayloadV1 = z.strictObject({
  v: v1,
  store: storeRef,
  /** Objects younger than this are kept: a save may still be writing them. */
  graceSeconds: z
    .int()
    .min(60)
    .max(30 * 86_400),
  dryRun: z.boolean(),
});

/*
 * The versions this code writes. Each is its predecessor with the store
 * named, never given as a URL: a job cannot send a worker, and the
 * credentials it holds, to a store of the job's choosing. Their
 * predecessors are still read (job-types.ts upgrades them, asking the
 * worker for the name of a configured store a URL equals).
 */
export const savePayloadV2 = savePayloadV1.extend({ v: v2, store: storeName });
/**
 * Restore v2 also adds `uuid`: a new uuid for the restored domain (a copy,
 * a clone), written into its config. Without it the domain keeps the
 * image's uuid.
 */
export const restorePayloadV2 = restorePayloadV1.extend({ v: v2, store: storeName, uuid: domainUuid.optional() });
export const compressPayloadV2 = compressPayloadV1.extend({ v: v2, store: storeName });
export const batchSavePayloadV3 = batchSavePayloadV2.extend({ v: z.literal(3), store: storeName });
export const migrateSendPayloadV2 = migrateSendPayloadV1.extend({ v: v2, store: storeName.optional() });
export const migrateRecvPayloadV2 = migrateRecvPayloadV1.extend({ v: v2, store: storeName.optional() });
export const evacuatePayloadV2 = evacuatePayloadV1.extend({ v: v2, coldVia: storeName.optional() });
export const retentionPayloadV2 = retentionPayloadV1.extend({ v: v2, store: storeName });
export const gcPayloadV2 = gcPayloadV1.extend({ v: v2, store: storeName });

/**
 * A deterministic slice of an image's packs, as `check --read-data-subset`
 * takes it: the n-th of m (by pack id), or a percentage of them.
 */
export const verifySubset = z.union([
  z
    .strictObject({ n: z.int().min(1).max(10_000), of: z.int().min(1).max(10_000) })
    .refine((s) => s.n <= s.of, "subset n/m needs 1 <= n <= m"),
  z.strictObject({ percent: z.number().gt(0).max(100) }),
]);

/**
 * A verify run: the controller lists the store's images, skips those
 * verified within the window, and fans out one verify job per image onto
 * the compress queue; once they have all finished it writes the report.
 */
export const verifyRunPayloadV1 = z.strictObject({
  v: v1,
  /** The run's id; a scheduled run's own id derives from it and its start. */
  runId: token,
  store: storeName,
  /** Images verified less than this long ago are skipped; absent, every image is verified. */
  outdatedAfterSeconds: z
    .int()
    .min(1)
    .max(10 * 365 * 86_400)
    .optional(),
  /** Read only this slice of each image's packs (and every page in them); absent, each image whole. */
  subset: verifySubset.optional(),
  /** Also health-check the newest image of every domain on this host (a health-check child each). */
  healthCheck: z.strictObject({ host: hostIdSchema, deadlineSeconds: z.int().min(1).max(86_400) }).optional(),
});

/** Verify one image (read, hash, record the result beside it). Any compress worker may take it. */
export const verifyPayloadV1 = z.strictObject({
  v: v1,
  store: storeName,
  image: imageId,
  subset: verifySubset.optional(),
  /** Set when the verification is one child of a verify run. */
  runId: token.optional(),
});

/**
 * A health check on a host: restore the image as a paused copy (unique name,
 * new uuid), check it runs (and on the sim that it reproduces the state its
 * save recorded), destroy it. Runs on the host's restore queue.
 */
export const healthCheckPayloadV1 = z.strictObject({
  v: v1,
  host: hostIdSchema,
  store: storeName,
  image: imageId,
  /** The copy must be running within this many seconds. */
  deadlineSeconds: z.int().min(1).max(86_400),
});

export { ConfigError, InvalidHostIdError, InvalidJobError, JobNotFoundError } from "./errors.js";
export { assertHostId, HOST_ID_PATTERN, hostIdSchema, isHostId, type HostId } from "./host-id.js";
export {
  assertPrefix,
  bullPrefix,
  COMPRESS_QUEUE,
  CONTROLLER_QUEUE,
  DEFAULT_PREFIX,
  HOST_QUEUE_KINDS,
  hostOfQueue,
  hostQueue,
  keys,
  PREFIX_PATTERN,
  TOKEN_PATTERN,
  type HostQueueKind,
} from "./names.js";
export * as schemas from "./schemas/common.js";
export * as payloads from "./schemas/payloads.js";
export * as results from "./schemas/results.js";
export * as progress from "./schemas/progress.js";
export type { DomainRef } from "./schemas/common.js";
export {
  DEFAULT_JOB_OPTIONS,
  isJobType,
  JOB_SPECS,
  JOB_TYPES,
  queueOf,
  type JobPayload,
  type JobPlace,
  type JobProgress,
  type JobResult,
  type ProgressJobType,
  type JobSpec,
  type UpgradeContext,
  type JobType,
} from "./job-types.js";
export { jobData, jobProgress, jobResult, parseJob, parseJobByName, parseProgress, parseResult } from "./parse-job.js";
export {
  fleetEnvSchema,
  logLevelSchema,
  metricsPortSchema,
  parseEnv,
  parseStoreList,
  portSchema,
  prefixSchema,
  redisUrlSchema,
  type FleetEnv,
} from "./config.js";
export {
  clusterOptions,
  createRedis,
  describeRedis,
  parseRedisUrl,
  redisOptions,
  type ConnectionRole,
  type RedisClient,
  type RedisTarget,
} from "./connection.js";
export { nodeForKey } from "./node-for-key.js";
export { scanKeys } from "./scan.js";
export { createLogger, REDACT_PATHS, type Logger, type LoggerOptions } from "./logger.js";
export {
  createMetrics,
  createVerifyGauges,
  type FleetMetrics,
  type ImageVerifyCounts,
  type JobOutcome,
  type MetricsOptions,
} from "./metrics.js";
export { serveMetrics, type Health, type MetricsServer, type MetricsServerOptions } from "./metrics-server.js";
export {
  DEFAULT_STALL_SETTINGS,
  isUnrecoverable,
  runWorker,
  type JobContext,
  type JobHandler,
  type JobHandlers,
  type RunWorkerOptions,
  type ShutdownOutcome,
  type StallSettings,
  type WorkerHandle,
} from "./run-worker.js";
export { terminationSignal } from "./shutdown.js";
export {
  clearDraining,
  forgetDownHost,
  getHost,
  heartbeat,
  hostDomainSchema,
  hostInfoSchema,
  hostReadingAges,
  isDraining,
  listHosts,
  markDraining,
  removeHost,
  registryClock,
  runHeartbeat,
  updateHostDomains,
  type HeartbeatLoopOptions,
  type HostDomain,
  type HostDomainsSnapshot,
  type HostInfo,
  type HostState,
  type HostStatus,
} from "./host-registry.js";
export {
  listServices,
  newServiceEntry,
  registerService,
  runServiceRegistration,
  serviceEntrySchema,
  unregisterService,
  type ServiceEntry,
  type ServiceRegistrationOptions,
} from "./service-registry.js";
export {
  batchSaveFlow,
  batchSaveJobId,
  batchSaveReport,
  saveChildJobId,
  type BatchSaveFlowInput,
  type BatchSaveTarget,
} from "./flows.js";
export { type FinishedJob, jobWithState, waitForJob } from "./job-with-state.js";

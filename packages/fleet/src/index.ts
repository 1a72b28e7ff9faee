export {
  defaultSimDir,
  hostEnvSchema,
  sizeSchema,
  storeCredentialsSchema,
  tagsSchema,
  type HostEnv,
} from "./host-config.js";
export { hostHypervisor, openHypervisor, type HypervisorConfig } from "./open-hypervisor.js";
export {
  readHostInfo,
  runHostAgent,
  startHostAgent,
  type HostAgentHandle,
  type HostAgentOptions,
  type HostIdentity,
} from "./host-agent.js";
export {
  acquireSaveSlot,
  activeSaveSlots,
  DEFAULT_LIMITS,
  getLimits,
  setLimits,
  type FleetLimits,
  type SaveSlot,
} from "./limits.js";
export { keyFileOfStore, storeCredentialVariable, storeCredentialVariables } from "./store-credentials.js";
export { Stores, UnknownStoreError, type StoresEnv } from "./stores.js";
export { probeStore } from "./store-probe.js";
export {
  batchTargets,
  UnknownHostError,
  type BatchTargets,
  type DuplicateDomain,
  type SkippedDomain,
} from "./targets.js";
export { expandInto, newBatchId, startBatch, type BatchOptions, type StartedBatch } from "./batch.js";
export {
  batchProgress,
  listBatches,
  waitForBatch,
  withSkipped,
  type BatchFailure,
  type BatchProgress,
  type BatchReport,
} from "./batch-report.js";
export {
  checkCron,
  cronSchema,
  InvalidCronError,
  listSchedules,
  NIGHTLY_BATCH,
  removeSchedule,
  scheduleGc,
  scheduleNightly,
  scheduleRetention,
  scheduleVerify,
  SCHEDULES,
  type Repeat,
  type ScheduleId,
  type ScheduleInfo,
} from "./schedules.js";
export {
  checkStoresHealth,
  startServiceEndpoint,
  type ServiceEndpoint,
  type ServiceEndpointOptions,
} from "./service-endpoint.js";
export {
  loadServiceConfig,
  serveQueues,
  startService,
  type QueueSpec,
  type ServeQueuesOptions,
  type Service,
  type ServiceOptions,
} from "./service.js";
export { EXIT_CONFIG, Supervisor, type ChildSpec, type SupervisorEvent, type SupervisorOptions } from "./supervisor.js";
export {
  definedOnly,
  EMBEDDED_STORE,
  fleetChildren,
  hostChildren,
  hostIds,
  prepareSimHost,
  prepareSimHosts,
  SERVICE_NODE_FLAGS,
  serviceCommand,
  simDir,
  type EmbeddedFleet,
  type SimHostSetup,
} from "./embedded.js";
export {
  runEvacuation,
  type DomainProgress,
  type DomainProgressState,
  type EvacuationContext,
  type EvacuationProgress,
} from "./evacuation.js";
export {
  planPlacement,
  type Placement,
  type Plan,
  type PlanDomain,
  type PlanHost,
  type PlanInput,
  type Unplaced,
} from "./placement.js";
export { fleetSnapshot, type FleetSnapshot } from "./snapshot.js";
export { imagesOfStores, type StoreImages } from "./store-images.js";
export { registerFleetGauges, type FleetGaugeSource } from "./fleet-gauges.js";
export {
  domainName,
  imageJson,
  lastGoodImages,
  selectImages,
  type ImageFilters,
  type ImageJson,
} from "./image-list.js";
export {
  evacuationJson,
  listEvacuations,
  type EvacuationReport,
  type EvacuationStatus,
} from "./evacuation-report.js";
export {
  imagesDue,
  startVerifyRun,
  verifyChildJobId,
  verifyCounts,
  verifyRunJobId,
  waitForVerifyRun,
  type VerifyRunOptions,
  type VerifyRunOutcome,
} from "./verify-run.js";
export * from "./handlers/index.js";

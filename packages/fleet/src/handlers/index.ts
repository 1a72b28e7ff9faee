/**
 * Every job handler of the fleet, one module per job type (migrate-send and
 * migrate-recv share one). A service's main.ts picks the ones its queues
 * serve; nothing else runs a job.
 */
export { batchSaveHandler, type BatchHandlerDeps } from "./batch-save.js";
export { compressHandler } from "./compress.js";
export { evacuateHandler } from "./evacuate.js";
export { healthCheckHandler } from "./health-check.js";
export { gcHandler, retentionHandler } from "./maintenance.js";
export { migrateHandlers, type MigrateWorkerDeps } from "./migrate.js";
export { restoreHandler, type RestoreHandlerDeps } from "./restore.js";
export { saveHandler, type SaveHandlerDeps } from "./save.js";
export { verifyHandler } from "./verify.js";
export { verifyRunHandler, type VerifyRunHandlerDeps } from "./verify-run.js";

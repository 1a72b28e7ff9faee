export { saveDomain, type SaveDomainInput, type SaveDomainResult } from "./save-domain.js";
export { restoreImage, type BuildClaim, type RestoreImageInput, type RestoreImageResult } from "./restore-image.js";
export { NoRoomError } from "./errors.js";
export { healthCheck, type HealthCheckInput, type HealthCheckOutcome } from "./health-check.js";

export type {
  DomainDigest,
  DomainInfo,
  DomainRef,
  DomainState,
  DomainType,
  HostInfo,
  Hypervisor,
  LiveOptions,
  MigrateSendOptions,
  MigrationReceiver,
  MigrationSender,
  RestoreOptions,
  SaveMode,
  SaveOptions,
  SaveReport,
} from "./hypervisor.js";
export {
  BadDomainUuidError,
  DomainBusyError,
  DomainExistsError,
  DomainNotFoundError,
  InsufficientMemoryError,
  MigrationStateError,
  MigrationTimeoutError,
  NotSupportedError,
  SimStateError,
  StreamContentError,
} from "./errors.js";
export { checkDomainUuid, isDomainUuid } from "./uuid.js";
export { findDomain } from "./find-domain.js";
export { SimHost, type SimDomainSpec, type SimHostOptions } from "./sim/host.js";
export { LIVE_DEFAULTS } from "./sim/precopy.js";
export { XenHypervisor } from "./xen/xen-host.js";

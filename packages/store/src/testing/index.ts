/**
 * Test support for ObjectStore implementations and their users: the
 * conformance suite, an S3-compatible server to run it against, and a store
 * wrapper that injects faults.
 */
export {
  describeObjectStoreConformance,
  INVALID_KEYS,
  type ConformanceOptions,
  type StoreUnderTest,
} from "./conformance.js";
export { FaultyStore, type StoreOperation } from "./faulty-store.js";
export { startTestS3Server, type TestS3Server } from "./s3-server.js";
export {
  randomFaults,
  startFaultProxy,
  type FaultPlan,
  type FaultProxy,
  type ProxiedRequest,
  type ProxyFault,
  type ProxyFaultKind,
} from "./fault-proxy.js";

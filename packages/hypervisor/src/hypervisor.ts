import type { Readable, Writable } from "node:stream";

/**
 * The contract every backend (sim, xen) implements for one host. Operations
 * name a domain by domid (number) or by uuid or name (string); domids are per
 * host and change on restore, uuids travel with the domain.
 *
 * All long operations take an AbortSignal. An aborted or failed save leaves
 * the domain as it was before (running stays running, paused stays paused);
 * an aborted or failed restore/receive leaves no domain behind.
 */
export interface Hypervisor {
  /** Backend name: "sim" or "xen". */
  readonly kind: string;
  hostInfo(): Promise<HostInfo>;
  listDomains(): Promise<DomainInfo[]>;
  /** Throws DomainNotFoundError when no such domain exists. */
  domainInfo(domain: DomainRef): Promise<DomainInfo>;
  /** Idempotent: pausing a paused domain is not an error. */
  pause(domain: DomainRef): Promise<void>;
  /** Idempotent: unpausing a running domain is not an error. */
  unpause(domain: DomainRef): Promise<void>;
  destroy(domain: DomainRef): Promise<void>;

  /**
   * Writes the domain's save image, the `xl` save-file format (xl header with
   * the domain config JSON, libxl stream, inline libxc stream), to `sink`,
   * honouring backpressure. The sink is ended on success and destroyed
   * (without an error event: the rejection carries the error) on failure.
   * - suspend: the domain is paused, saved, then destroyed.
   * - checkpoint: paused, saved, then put back in its previous state (`xl save -c`).
   * - live: pre-copy while running, a final paused pass, then put back in its
   *   previous state (a checkpoint with a short pause).
   */
  save(domain: DomainRef, sink: Writable, options: SaveOptions): Promise<SaveReport>;

  /** Builds a new domain from a save image; it runs unless `paused`. */
  restore(source: Readable, options?: RestoreOptions): Promise<DomainInfo>;

  /**
   * Sending half of a live migration: pre-copy to `sink`, final paused pass,
   * sink ended. Resolves once everything is sent; the source is then paused and
   * still exists until `commit()` (destroy it: the target runs) or `abort()`
   * (resume it: the migration failed). On failure before that the source is
   * resumed and the promise rejects.
   */
  migrateSend(domain: DomainRef, sink: Writable, options?: MigrateSendOptions): Promise<MigrationSender>;

  /**
   * Refuses, with NotSupportedError saying what the backend does instead,
   * the pre-copy options it cannot honour. Called with the options a user
   * gave, before anything starts: an option accepted and then ignored would
   * promise a downtime or a deadline nobody keeps.
   */
  checkLiveOptions(live: LiveOptions): void;

  /**
   * Receiving half: builds the domain from `source`, paused. `start()` unpauses
   * it (tell the sender to commit afterwards); `abort()` destroys it.
   */
  migrateReceive(source: Readable, options?: RestoreOptions): Promise<MigrationReceiver>;

  /**
   * Hash of the domain's memory (all pages in pfn order, zero pages included)
   * and vCPU state: the correctness oracle. Equal before save and after
   * restore. The sim computes it; a backend that cannot read guest memory throws.
   */
  digest(domain: DomainRef): Promise<DomainDigest>;
}

export type DomainRef = number | string;

/** `pvh` guests save as x86 HVM streams. */
export type DomainType = "pv" | "hvm" | "pvh";

export type DomainState = "running" | "paused";

export interface DomainInfo {
  domid: number;
  uuid: string;
  name: string;
  type: DomainType;
  memoryBytes: number;
  vcpus: number;
  state: DomainState;
}

export interface HostInfo {
  name: string;
  kind: string;
  totalMemoryBytes: number;
  freeMemoryBytes: number;
  domains: number;
}

export type SaveMode = "suspend" | "checkpoint" | "live";

export interface SaveOptions {
  mode: SaveMode;
  signal?: AbortSignal;
  /**
   * Mode "suspend" only: leave the domain stopped where the image left it
   * instead of destroying it, so the caller can destroy it once the image is
   * safely stored, or `unpause` it (which resumes a suspended domain) if
   * storing failed. A domain is then never lost between save and store.
   */
  keepSuspended?: boolean;
  /** Pre-copy tuning, used by mode "live". */
  live?: LiveOptions;
}

export interface LiveOptions {
  /** Total passes including the final paused one (default 5, like libxc). */
  maxIterations?: number;
  /** Stop pre-copy once this few pages are dirty (default 50, like libxc). */
  dirtyPagesThreshold?: number;
  /**
   * Stop pre-copy once the remaining dirty set can be sent within this many
   * milliseconds at the send rate measured on the sink (default 300).
   */
  maxDowntimeMs?: number;
  /** Upper bound for the whole pre-copy phase (default: none). */
  timeoutMs?: number;
  /** On timeout: "abort" fails and resumes the domain, "force" does the final pass now (default). */
  timeoutAction?: "abort" | "force";
}

export interface SaveReport {
  mode: SaveMode;
  domid: number;
  uuid: string;
  /** Pages sent per pass; one entry for suspend/checkpoint, the last entry is the paused pass. */
  pagesPerIteration: number[];
  iterations: number;
  bytesWritten: number;
  /** Milliseconds the domain was paused (for suspend: until the image was written); absent when the backend cannot tell. */
  downtimeMs?: number;
  durationMs: number;
  /** Why pre-copy stopped (live only). */
  stopReason?: "max-iterations" | "dirty-threshold" | "downtime-target" | "timeout";
  /** Digest of the state captured in the image, taken at the paused point (sim). */
  digest?: string;
}

export interface RestoreOptions {
  signal?: AbortSignal;
  /** Leave the new domain paused. */
  paused?: boolean;
  /** Override the name from the image's config. */
  name?: string;
  /** Override the uuid from the image's config (e.g. a second copy on the same host). */
  uuid?: string;
}

export interface MigrateSendOptions extends LiveOptions {
  signal?: AbortSignal;
  /**
   * Called once, when the domain pauses for the final pass (the sim calls it;
   * libxl tells the toolstack no such moment, so the xen backend never does).
   */
  onPaused?: () => void;
}

export interface MigrationSender {
  report: SaveReport;
  /** The target runs: destroy the (paused) source. */
  commit(): Promise<void>;
  /** The target failed: resume the source as it was. */
  abort(): Promise<void>;
}

export interface MigrationReceiver {
  domain: DomainInfo;
  /** Unpause the received domain. */
  start(): Promise<void>;
  /** Destroy the received domain. */
  abort(): Promise<void>;
}

export interface DomainDigest {
  /** SHA-256 over all pages in pfn order, hex. */
  memory: string;
  /** SHA-256 over the vCPU state records, hex. */
  vcpus: string;
  /** SHA-256 over both: the one value to compare. */
  digest: string;
}

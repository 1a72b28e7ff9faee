import { createRequire } from "node:module";

/** The raw exports of build/Release/xenfleet_native.node (see src/*.cc). */
export interface NativeAddon {
  readonly blake3Version: string;
  readonly digestLength: number;
  blake3(data: Uint8Array): Buffer;
  hashPages(pages: Uint8Array, offsets?: Float64Array): Buffer;
  hashPagesAsync(pages: Uint8Array, offsets?: Float64Array): Promise<Buffer>;
  zeroPages(pages: Uint8Array, offsets?: Float64Array): Uint8Array;
  classifyPagesAsync(
    pages: Uint8Array,
    offsets: Float64Array | undefined,
    expected: Uint8Array,
    digests: Uint8Array,
    flags: Uint8Array,
  ): Promise<void>;
  readonly deltaVersion: number;
  readonly maxDeltaLength: number;
  deltaEncode(page: Uint8Array, previous: Uint8Array): Buffer;
  deltaDecode<T extends Uint8Array = Buffer>(delta: Uint8Array, previous: Uint8Array, target?: T): T;
  readonly libxlBuilt: boolean;
  xenProbe(): { available: boolean; reason?: string };
  libxlOpen(): Promise<LibxlHandle>;
  libxlClose(handle: LibxlHandle): void;
  libxlListDomains(handle: LibxlHandle): Promise<NativeDomainInfo[]>;
  libxlDomainInfo(handle: LibxlHandle, domid: number): Promise<NativeDomainInfo>;
  libxlDomainConfig(handle: LibxlHandle, domid: number): Promise<string>;
  libxlPhysInfo(handle: LibxlHandle): Promise<NativePhysInfo>;
  libxlPause(handle: LibxlHandle, domid: number): Promise<void>;
  libxlUnpause(handle: LibxlHandle, domid: number): Promise<void>;
  libxlResume(handle: LibxlHandle, domid: number): Promise<void>;
  libxlDestroy(handle: LibxlHandle, domid: number): Promise<void>;
  libxlSave(handle: LibxlHandle, domid: number, fd: number, live: boolean, checkpoint: boolean): Promise<void>;
  libxlRestore(
    handle: LibxlHandle,
    fd: number,
    configJson: string,
    paused: boolean,
    streamVersion: number,
  ): Promise<number>;
}

/** An opaque native libxl context. */
export type LibxlHandle = { readonly __brand: "LibxlHandle" };

export interface NativeDomainInfo {
  domid: number;
  name: string;
  uuid: string;
  type: string;
  running: boolean;
  blocked: boolean;
  paused: boolean;
  shutdown: boolean;
  dying: boolean;
  shutdownReason: number;
  currentMemKiB: number;
  maxMemKiB: number;
  cpuTimeNs: number;
  vcpuOnline: number;
  vcpuMaxId: number;
}

/** libxl_physinfo: memory in pages of 4 KiB, as Xen counts them. */
export interface NativePhysInfo {
  totalPages: number;
  freePages: number;
  /** Freed pages still being scrubbed: free soon, not yet. */
  scrubPages: number;
  nrCpus: number;
  cpuKhz: number;
}

const require = createRequire(import.meta.url);
// The same relative path works from lib/ (sources) and dist/ (build output).
export const addon = require("../build/Release/xenfleet_native.node") as NativeAddon;

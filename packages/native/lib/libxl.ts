import { addon, type LibxlHandle, type NativeDomainInfo, type NativePhysInfo } from "./addon.js";
import { callNative, callNativeAsync } from "./errors.js";

/** The host's memory (4 KiB pages) and CPUs, from libxl_get_physinfo. */
export type PhysInfo = NativePhysInfo;

/**
 * libxl bindings for the `xen` backend. Every call that can block runs on a
 * libuv worker thread; on a host without Xen they all fail with
 * XenUnavailableError, never with made-up results.
 */

/** Whether this process can drive Xen, and if not, why. Quick and synchronous. */
export function xenAvailable(): { available: boolean; reason?: string } {
  const probe = addon.xenProbe();
  return probe.available ? { available: true } : { available: false, reason: probe.reason ?? "unknown" };
}

/** True when the addon was compiled against libxl (libxen-dev was present). */
export const LIBXL_BUILT: boolean = addon.libxlBuilt;

export type DomainType = "hvm" | "pv" | "pvh" | "invalid" | (string & {});

/** One domain as libxl reports it (libxl_dominfo plus its name). */
export interface DomainInfo extends NativeDomainInfo {
  type: DomainType;
}

export interface SaveOptions {
  /** Live save: pre-copy memory while the guest runs (LIBXL_SUSPEND_LIVE). */
  live?: boolean;
  /**
   * Resume the guest once its state is written (like `xl save -c`). Without
   * it the guest stays suspended: destroy it once the image is stored, or
   * resume it if storing failed.
   */
  checkpoint?: boolean;
}

export interface RestoreOptions {
  /** Leave the new domain paused instead of unpausing it. */
  paused?: boolean;
  /** libxl stream version that follows on the descriptor: 2 (default) or 1 (legacy). */
  streamVersion?: 1 | 2;
}

/** A libxl context. Obtain with `Libxl.open()`; `close()` when done. */
export class Libxl {
  private constructor(private readonly handle: LibxlHandle) {}

  /** Allocates a libxl context; rejects with XenUnavailableError without Xen. */
  static async open(): Promise<Libxl> {
    return new Libxl(await callNativeAsync(() => addon.libxlOpen()));
  }

  listDomains(): Promise<DomainInfo[]> {
    return callNativeAsync(() => addon.libxlListDomains(this.handle));
  }

  domainInfo(domid: number): Promise<DomainInfo> {
    return callNativeAsync(() => addon.libxlDomainInfo(this.handle, domid));
  }

  /** The domain's configuration as libxl JSON (what the xl save header carries). */
  domainConfig(domid: number): Promise<string> {
    return callNativeAsync(() => addon.libxlDomainConfig(this.handle, domid));
  }

  /** The host's memory (in 4 KiB pages) and CPUs: libxl_get_physinfo, as `xl info`. */
  physInfo(): Promise<PhysInfo> {
    return callNativeAsync(() => addon.libxlPhysInfo(this.handle));
  }

  pause(domid: number): Promise<void> {
    return callNativeAsync(() => addon.libxlPause(this.handle, domid));
  }

  unpause(domid: number): Promise<void> {
    return callNativeAsync(() => addon.libxlUnpause(this.handle, domid));
  }

  /** Co-operatively resumes a suspended domain where it stopped. */
  resume(domid: number): Promise<void> {
    return callNativeAsync(() => addon.libxlResume(this.handle, domid));
  }

  destroy(domid: number): Promise<void> {
    return callNativeAsync(() => addon.libxlDestroy(this.handle, domid));
  }

  /**
   * Writes the domain's libxl stream to `fd` (write the xl header first). A
   * failed save resumes the guest. `fd` must stay open until this settles.
   */
  save(domid: number, fd: number, options: SaveOptions = {}): Promise<void> {
    return callNativeAsync(() =>
      addon.libxlSave(this.handle, domid, fd, options.live ?? false, options.checkpoint ?? false),
    );
  }

  /**
   * Creates a domain from `configJson` (libxl domain config JSON) and the
   * libxl stream read from `fd` (positioned after the xl header); resolves
   * to the new domid.
   */
  restore(fd: number, configJson: string, options: RestoreOptions = {}): Promise<number> {
    return callNativeAsync(() =>
      addon.libxlRestore(this.handle, fd, configJson, options.paused ?? false, options.streamVersion ?? 2),
    );
  }

  /** Frees the context once running calls finish; later calls throw NativeArgumentError. */
  close(): void {
    callNative(() => addon.libxlClose(this.handle));
  }
}

import { OperationAbortedError, writeChunk } from "@xenfleet/core";
import { hostname } from "node:os";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { encodeXlHeader, StreamDecoder } from "@xenfleet/format";
import type { DomainInfo as NativeDomainInfo, Libxl } from "@xenfleet/native";
import { DomainNotFoundError, MigrationStateError, NotSupportedError, StreamContentError } from "../errors.js";
import type {
  DomainDigest,
  DomainInfo,
  DomainRef,
  DomainType,
  HostInfo,
  Hypervisor,
  LiveOptions,
  MigrateSendOptions,
  MigrationReceiver,
  MigrationSender,
  RestoreOptions,
  SaveOptions,
  SaveReport,
} from "../hypervisor.js";
import { withIdentity } from "../domain-config.js";
import { checkDomainUuid } from "../uuid.js";
import { openFifo } from "./fifo.js";

/** What Xen 4.17 does about pre-copy, for the error refusing options it has no hold on. */
export const XEN_PRECOPY =
  "Xen 4.17's libxl migration has no downtime target or deadline; libxc's pre-copy sends memory in up to 5 passes " +
  "(fewer once under 50 pages are dirty), then pauses the guest and sends the rest however long that takes";

/** Xen counts host memory in 4 KiB pages on x86. */
const XEN_PAGE_BYTES = 4096;
const MiB = 2 ** 20;

/**
 * The Hypervisor of a real dom0, over @xenfleet/native's libxl bindings. On a
 * machine without Xen every call rejects with the addon's
 * XenUnavailableError; nothing is simulated here.
 *
 * Streams: libxl writes the libxl stream to a descriptor; this class writes
 * the xl header (config from libxl) in front and pipes the rest through a
 * named pipe into the sink, so the sink receives exactly an `xl save` file.
 */
export class XenHypervisor implements Hypervisor {
  readonly kind = "xen";
  private ctx: Promise<Libxl> | undefined;

  /**
   * The libxl context, opened on first use (and retried after a failure).
   * The addon is loaded here, not at import, so that using the sim backend
   * never needs a built native module.
   */
  private libxl(): Promise<Libxl> {
    this.ctx ??= import("@xenfleet/native")
      .catch((err: unknown) => {
        throw new NotSupportedError("xen", "load @xenfleet/native", err instanceof Error ? err.message : String(err));
      })
      .then((native) => native.Libxl.open())
      .catch((err: unknown) => {
        this.ctx = undefined;
        throw err;
      });
    return this.ctx;
  }

  close(): void {
    void this.ctx?.then(
      (x) => x.close(),
      () => undefined,
    );
    this.ctx = undefined;
  }

  /** Memory as `xl info` reports it (Xen's own pages); `domains` counts guests, not dom0. */
  async hostInfo(): Promise<HostInfo> {
    const x = await this.libxl();
    const [physical, domains] = await Promise.all([x.physInfo(), x.listDomains()]);
    return {
      name: hostname(),
      kind: this.kind,
      totalMemoryBytes: physical.totalPages * XEN_PAGE_BYTES,
      freeMemoryBytes: physical.freePages * XEN_PAGE_BYTES,
      domains: domains.filter((d) => d.domid !== 0).length,
    };
  }

  async listDomains(): Promise<DomainInfo[]> {
    const x = await this.libxl();
    return (await Promise.all((await x.listDomains()).map((d) => withPvh(x, d)))).map(toInfo);
  }

  async domainInfo(domain: DomainRef): Promise<DomainInfo> {
    return toInfo(await this.find(domain));
  }

  async pause(domain: DomainRef): Promise<void> {
    const x = await this.libxl();
    const d = await this.find(domain);
    if (!d.paused) await x.pause(d.domid);
  }

  /** Runs the domain again: unpaused, or resumed if a save left it suspended. */
  async unpause(domain: DomainRef): Promise<void> {
    const x = await this.libxl();
    const d = await this.find(domain);
    if (d.shutdown) await x.resume(d.domid);
    else if (d.paused) await x.unpause(d.domid);
  }

  async destroy(domain: DomainRef): Promise<void> {
    const x = await this.libxl();
    await x.destroy((await this.find(domain)).domid);
  }

  async save(domain: DomainRef, sink: Writable, options: SaveOptions): Promise<SaveReport> {
    const x = await this.libxl();
    const d = await this.find(domain);
    // libxl's checkpoint flag resumes the guest after writing; "live" here keeps it running too.
    const report = await this.writeXlStream(
      x,
      d,
      sink,
      { live: options.mode === "live", checkpoint: options.mode !== "suspend" },
      options.mode,
      options.signal,
    );
    if (options.mode === "suspend" && !options.keepSuspended) await x.destroy(d.domid);
    return report;
  }

  async restore(source: Readable, options: RestoreOptions = {}): Promise<DomainInfo> {
    const x = await this.libxl();
    const header = await readXlHeader(source);
    const configText = renamed(header.configText, options);
    const { rest } = header;
    const fifo = await openFifo();
    // The stream owns the write end and closes it once everything is written.
    // (A FileHandle's close() waits for every stream still open on it: with
    // autoClose off, fifo.close() below never settled.)
    const writer = fifo.writeEnd.createWriteStream();
    const feeding = pipeline(rest, writer, { signal: options.signal });
    // Awaited below; when libxl fails first, the feed only has to stop.
    feeding.catch(() => undefined);
    const restoring = x.restore(fifo.readEnd.fd, configText, { paused: options.paused ?? false });
    try {
      const [domid] = await Promise.all([restoring, feeding]);
      return toInfo(await withPvh(x, await x.domainInfo(domid)));
    } catch (err) {
      // The source failed or the restore was aborted while libxl still reads:
      // the closed write end ends its stream, libxl fails and removes the
      // half-built domain. Wait for that before the read end is closed. A
      // domain libxl built from a stream that proved incomplete is removed here.
      writer.destroy();
      const built = await restoring.catch(() => undefined);
      if (built !== undefined) await x.destroy(built).catch(() => undefined);
      throw options.signal?.aborted && !(err instanceof OperationAbortedError)
        ? new OperationAbortedError("restore", { cause: err })
        : err;
    } finally {
      writer.destroy();
      await fifo.close();
    }
  }

  /**
   * libxl (Xen 4.17) gives the toolstack no hold on pre-copy: it passes no
   * precopy_policy callback to libxc, whose default policy decides alone.
   * Every tuning option is refused, with what happens instead.
   */
  checkLiveOptions(live: LiveOptions): void {
    const given = (
      [
        ["maxDowntimeMs", "a downtime target (--max-downtime)"],
        ["timeoutMs", "a pre-copy deadline (--timeout)"],
        ["timeoutAction", "a timeout action (--timeout-action)"],
        ["maxIterations", "a number of pre-copy passes"],
        ["dirtyPagesThreshold", "a dirty-page threshold"],
      ] as const
    ).filter(([key]) => live[key] !== undefined);
    if (given.length === 0) return;
    throw new NotSupportedError("xen", `honour ${given.map(([, what]) => what).join(", ")}`, XEN_PRECOPY);
  }

  async migrateSend(domain: DomainRef, sink: Writable, options: MigrateSendOptions = {}): Promise<MigrationSender> {
    const x = await this.libxl();
    const d = await this.find(domain);
    // Without checkpoint libxl leaves the guest suspended: ours to destroy or resume.
    const report = await this.writeXlStream(x, d, sink, { live: true, checkpoint: false }, "live", options.signal);
    let settled = false;
    const once = async (fn: () => Promise<void>) => {
      if (settled) throw new MigrationStateError("migration already committed or aborted");
      settled = true;
      await fn();
    };
    return { report, commit: () => once(() => x.destroy(d.domid)), abort: () => once(() => x.resume(d.domid)) };
  }

  async migrateReceive(source: Readable, options: RestoreOptions = {}): Promise<MigrationReceiver> {
    const info = await this.restore(source, { ...options, paused: true });
    const x = await this.libxl();
    let settled = false;
    const once = async (fn: () => Promise<void>) => {
      if (settled) throw new MigrationStateError("received domain already started or aborted");
      settled = true;
      await fn();
    };
    return {
      domain: info,
      start: () => once(() => x.unpause(info.domid)),
      abort: () => once(() => x.destroy(info.domid)),
    };
  }

  async digest(_domain: DomainRef): Promise<DomainDigest> {
    await this.libxl();
    throw new NotSupportedError("xen", "digest guest memory", "@xenfleet/native maps no guest memory");
  }

  private async find(ref: DomainRef): Promise<NativeDomainInfo> {
    const x = await this.libxl();
    if (typeof ref === "number") return withPvh(x, await x.domainInfo(ref));
    const all = await x.listDomains();
    const found = all.find((d) => d.uuid === ref) ?? all.find((d) => d.name === ref);
    if (!found) throw new DomainNotFoundError(ref);
    return withPvh(x, found);
  }

  private async writeXlStream(
    x: Libxl,
    d: NativeDomainInfo,
    sink: Writable,
    flags: { live: boolean; checkpoint: boolean },
    mode: SaveOptions["mode"],
    signal?: AbortSignal,
  ): Promise<SaveReport> {
    const started = performance.now();
    const config = JSON.parse(await x.domainConfig(d.domid)) as unknown;
    const header = encodeXlHeader({ byteOrder: "little", config });
    let bytes = header.length;
    await writeChunk(sink, header, signal);
    const fifo = await openFifo();
    let saveStart = 0;
    let saveEnded = 0;
    try {
      const counted = fifo.readEnd.createReadStream({ autoClose: false });
      counted.on("data", (c: Buffer | string) => {
        bytes += c.length;
      });
      // libxl closes nothing; the write end is closed once it returns so the reader sees EOF.
      saveStart = performance.now();
      const saving = x.save(d.domid, fifo.writeEnd.fd, flags).finally(() => {
        saveEnded = performance.now();
        return fifo.writeEnd.close();
      });
      try {
        await Promise.all([saving, pipeline(counted, sink, { signal })]);
      } catch (err) {
        // The sink failed or the save was aborted while libxl still writes:
        // with the read end gone its writes fail, it resumes the guest and
        // returns. Wait for that, so the domain is back as it was (and the
        // write end is not closed under libxl) before reporting.
        counted.destroy();
        await saving.catch(() => undefined);
        throw signal?.aborted && !(err instanceof OperationAbortedError)
          ? new OperationAbortedError("save", { cause: err })
          : err;
      }
    } finally {
      await fifo.close();
    }
    const done = performance.now();
    return {
      mode,
      domid: d.domid,
      uuid: d.uuid,
      pagesPerIteration: [],
      iterations: 0,
      bytesWritten: bytes,
      // Not live, libxl suspends the guest first and writes all of memory
      // before it returns: its call is the pause. Live, it pauses for a final
      // pass at a moment it does not report: the downtime is unknown, absent.
      ...(flags.live ? {} : { downtimeMs: saveEnded - saveStart }),
      durationMs: done - started,
    };
  }
}

/**
 * The hypervisor knows only PV and HVM domains, so libxl_domain_info reports a
 * PVH guest as "hvm"; the domain's libxl config tells them apart.
 */
async function withPvh(x: Libxl, d: NativeDomainInfo): Promise<NativeDomainInfo> {
  if (d.type !== "hvm") return d;
  try {
    const config = JSON.parse(await x.domainConfig(d.domid)) as { c_info?: { type?: unknown } };
    return config.c_info?.type === "pvh" ? { ...d, type: "pvh" } : d;
  } catch {
    // Gone meanwhile, or no config to read: what the hypervisor said stands.
    return d;
  }
}

function toInfo(d: NativeDomainInfo): DomainInfo {
  const type: DomainType = d.type === "pv" ? "pv" : d.type === "pvh" ? "pvh" : "hvm";
  return {
    domid: d.domid,
    uuid: d.uuid,
    name: d.name,
    type,
    // The guest's memory, as `xl list` shows it: whole MiB of its current
    // pages. libxl sets the maximum 1 MiB above the configured size
    // (LIBXL_MAXMEM_CONSTANT), so maxMemKiB overstates it; a restored PVH
    // guest holds a few special pages (64 KiB) beyond its configured size.
    memoryBytes: Math.floor(d.currentMemKiB / 1024) * MiB,
    vcpus: d.vcpuOnline,
    // A suspended domain (shut down for a save or a live send, not yet
    // destroyed or resumed) runs no more than a paused one.
    state: d.paused || d.shutdown ? "paused" : "running",
  };
}

/**
 * The xl config libxl builds the domain from, under the name and uuid asked
 * for (a copy beside its original): the domain's own config carries them.
 */
export function renamed(configText: string, options: { name?: string; uuid?: string }): string {
  if (options.name === undefined && options.uuid === undefined) return configText;
  let config: unknown;
  try {
    config = JSON.parse(configText);
  } catch (err) {
    throw new StreamContentError("xl header config is not JSON", { cause: err });
  }
  if (config === null || typeof config !== "object" || Array.isArray(config))
    throw new StreamContentError("xl header config is not a JSON object");
  const uuid = options.uuid === undefined ? undefined : checkDomainUuid(options.uuid);
  return JSON.stringify(
    withIdentity(config as Record<string, unknown>, {
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(uuid !== undefined ? { uuid } : {}),
    }),
  );
}

/**
 * Reads the xl header off the front of `source` with the format package's
 * decoder and returns its config text and a stream of everything after it
 * (the libxl stream libxl restores from).
 */
async function readXlHeader(source: Readable): Promise<{ configText: string; rest: Readable }> {
  const decoder = new StreamDecoder({ format: "xl" });
  const held: Buffer[] = [];
  let heldBytes = 0;
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  for (;;) {
    const { value, done } = await it.next();
    if (done) throw new StreamContentError("stream ended inside its xl header");
    held.push(value);
    heldBytes += value.length;
    const header = decoder.push(value).find((e) => e.kind === "xl-header");
    if (header && header.kind === "xl-header") {
      if (header.configText === undefined) throw new StreamContentError("xl header carries no domain config");
      const end = header.offset + header.raw.length;
      const first = Buffer.concat(held, heldBytes).subarray(end);
      // The decoder goes on reading everything libxl is fed: libxl has built
      // a domain from a truncated stream, so the stream's own END is what
      // says it is whole (end() throws StreamError otherwise).
      // It has seen every byte held so far, `first` included.
      async function* rest() {
        yield first;
        for (;;) {
          const next = await it.next();
          if (next.done) {
            decoder.end();
            return;
          }
          decoder.push(next.value);
          yield next.value;
        }
      }
      return { configText: header.configText, rest: Readable.from(rest()) };
    }
  }
}

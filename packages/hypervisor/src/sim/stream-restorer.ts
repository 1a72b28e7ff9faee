import { randomUUID } from "node:crypto";
import { writeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import { PageType, pageTypeHasData, readStream } from "@xenfleet/format";
import { InsufficientMemoryError, StreamContentError } from "../errors.js";
import type { DomainType } from "../hypervisor.js";
import { PAGE_SIZE } from "./content.js";
import { isZeroPage } from "./memory.js";
import { emptyPlatform, type Platform, type PlatformRecord, writePlatform } from "./platform.js";
import { paths } from "./state-dir.js";

/** What a stream turned into: a complete domain directory, not yet on the host. */
export interface BuiltDomain {
  type: DomainType;
  pages: number;
  vcpus: number;
  name: string | undefined;
  uuid: string | undefined;
  /** The xl config, or one made up from the stream when it had no xl header. */
  config: Record<string, unknown>;
}

/** Where each libxc record goes in the platform state; records not listed carry nothing to keep. */
const PLACE: Record<string, keyof Omit<Platform, "pageTypes" | "libxl">> = {
  X86_PV_INFO: "static",
  X86_CPUID_POLICY: "static",
  X86_MSR_POLICY: "static",
  X86_PV_P2M_FRAMES: "early",
  X86_TSC_INFO: "late",
  SHARED_INFO: "late",
  X86_PV_VCPU_BASIC: "late",
  X86_PV_VCPU_EXTENDED: "late",
  X86_PV_VCPU_XSAVE: "late",
  X86_PV_VCPU_MSRS: "late",
  HVM_PARAMS: "late",
  HVM_CONTEXT: "late",
};

/**
 * Reads a save or migration stream (xl, libxl or bare libxc; from this sim
 * or any other writer) into `dir`: memory.img from PAGE_DATA (a later copy of
 * a pfn replaces an earlier one, as pre-copy streams resend pages),
 * platform.json from the vCPU and platform records, config from the xl
 * header. `maxPages` bounds memory when the stream does not state its size.
 * Throws the format package's errors for malformed streams and
 * StreamContentError for streams that decode but do not make a domain.
 */
export async function buildDomainFromStream(
  source: Readable,
  dir: string,
  maxPages: number,
  signal?: AbortSignal,
): Promise<BuiltDomain> {
  let config: Record<string, unknown> | undefined;
  let statedPages: number | undefined;
  let type: DomainType | undefined;
  let mem: FileHandle | undefined;
  let highestPfn = -1;
  // pfns written so far; a zero page over one of them must be written, elsewhere it stays a hole.
  const written = new Set<number>();
  const platform = emptyPlatform();
  const limit = () => statedPages ?? maxPages;

  const onAbort = () => source.destroy();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const ev of readStream(source)) {
      signal?.throwIfAborted();
      switch (ev.kind) {
        case "xl-header": {
          config = isObject(ev.config) ? ev.config : undefined;
          statedPages = config ? configPages(config) : undefined;
          if (statedPages !== undefined && statedPages > maxPages) {
            throw new InsufficientMemoryError(statedPages * PAGE_SIZE, maxPages * PAGE_SIZE);
          }
          break;
        }
        case "domain-header": {
          type = domainType(ev.domainTypeName, config);
          mem = await open(paths.memory(dir), "wx");
          break;
        }
        case "page-data": {
          await writePages(mem!, ev.pfns, ev.pages, limit(), written, platform);
          for (const e of ev.pfns) if (pageTypeHasData(e.type)) highestPfn = Math.max(highestPfn, e.pfn);
          break;
        }
        case "libxc-record": {
          const place = PLACE[ev.name];
          if (place) keep(platform[place], { name: ev.name, fields: ev.fields });
          break;
        }
        case "libxl-record": {
          if (ev.name === "EMULATOR_CONTEXT" || ev.name === "EMULATOR_XENSTORE_DATA") {
            keep(platform.libxl, { name: ev.name, fields: ev.fields });
          }
          break;
        }
        default:
          break;
      }
    }
  } catch (err) {
    await mem?.close();
    throw err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (signal?.aborted) await mem?.close();
  signal?.throwIfAborted();
  if (!type || !mem) throw new StreamContentError("stream ended before its domain header");

  const pages = statedPages ?? highestPfn + 1;
  if (pages <= 0) throw new StreamContentError("stream holds no memory and states no size");
  try {
    // No fsync: memory.img stands for RAM. The page cache keeps it across
    // process restarts, which is all a real host's memory survives, and
    // syncing the whole image here would hold the paused target back.
    await mem.truncate(pages * PAGE_SIZE);
  } finally {
    await mem.close();
  }
  checkVcpuState(type, platform);
  await writePlatform(dir, platform);

  const cInfo = isObject(config?.c_info) ? config.c_info : {};
  const bInfo = isObject(config?.b_info) ? config.b_info : {};
  const vcpus = typeof bInfo.max_vcpus === "number" ? bInfo.max_vcpus : countVcpus(platform);
  return {
    type,
    pages,
    vcpus,
    name: typeof cInfo.name === "string" ? cInfo.name : undefined,
    uuid: typeof cInfo.uuid === "string" ? cInfo.uuid : undefined,
    config: config ?? {
      c_info: { type, name: `restored-${randomUUID().slice(0, 8)}` },
      b_info: { max_memkb: pages * 4, target_memkb: pages * 4 },
    },
  };
}

async function writePages(
  mem: FileHandle,
  pfns: Array<{ pfn: number; type: number }>,
  pages: Uint8Array[],
  limit: number,
  written: Set<number>,
  platform: Platform,
): Promise<void> {
  // Runs of consecutive pfns go out in one write: a write per page costs a
  // thread-pool round trip each, and a receiver that slow falls behind the
  // sender, which then waits for it while the domain is paused. A few zero
  // pages between written ones (free pages inside used memory) are written
  // as zeros rather than left as holes, so they do not cut the run in
  // pieces; longer stretches of zero pages stay holes.
  let run: Uint8Array[] = [];
  let runStart = 0;
  let gap: Uint8Array[] = [];
  const flush = async () => {
    if (run.length > 0) await writeRun(mem, runStart * PAGE_SIZE, run);
    run = [];
    gap = [];
  };
  let next = 0;
  for (const e of pfns) {
    const page = pageTypeHasData(e.type) ? pages[next++] : undefined;
    if (e.pfn >= limit) {
      // XTAB/BROKEN/XALLOC entries carry nothing; Xen lists unpopulated pfns beyond memory too.
      if (!page) continue;
      throw new StreamContentError(`page pfn ${e.pfn} is beyond the domain's ${limit} pages`);
    }
    const hasData = page !== undefined;
    if (e.type === PageType.NOTAB || !hasData) delete platform.pageTypes[e.pfn];
    else platform.pageTypes[e.pfn] = e.type;
    // XTAB, BROKEN, XALLOC carry no data: the page reads as zeros.
    let data: Uint8Array | undefined;
    if (!page || isZeroPage(page)) {
      // A zero page stays a hole unless it replaces one written earlier.
      if (written.delete(e.pfn)) data = ZERO_PAGE;
    } else {
      data = page;
      written.add(e.pfn);
    }
    const follows = run.length > 0 && e.pfn === runStart + run.length + gap.length;
    if (data === undefined) {
      // A hole: kept aside in case written pages follow right after it.
      if (follows && gap.length < SHORT_HOLE_PAGES) gap.push(page ?? ZERO_PAGE);
      else if (run.length > 0) await flush();
      continue;
    }
    if (run.length > 0 && (!follows || run.length + gap.length >= MAX_RUN)) await flush();
    if (run.length === 0) runStart = e.pfn;
    run.push(...gap, data);
    gap = [];
  }
  await flush();
}

/** Zero pages written as zeros when they sit between written pages (see writePages). */
const SHORT_HOLE_PAGES = 8;

/** Pages per writev: Linux takes at most 1024 buffers in one call. */
const MAX_RUN = 1024;
/** Runs up to this many pages are written synchronously (see writeRun). */
const SYNC_RUN_PAGES = 16;

/**
 * Writes pages that belong at consecutive pfns. Pages that also lie side by
 * side in memory (they usually do: one record's pages are slices of one
 * buffer) become one buffer, since writev over a thousand 4 KiB buffers
 * costs many times one write of the same bytes. A short run (the scattered
 * pages of a late pre-copy pass, often one page each) is written
 * synchronously: a page-cache write takes microseconds, the thread-pool
 * round trip of an async one far longer, and those passes are what the
 * paused domain waits for.
 */
async function writeRun(mem: FileHandle, position: number, run: Uint8Array[]): Promise<void> {
  const pieces: Uint8Array[] = [];
  for (const page of run) {
    const last = pieces[pieces.length - 1];
    if (last && last.buffer === page.buffer && last.byteOffset + last.byteLength === page.byteOffset) {
      pieces[pieces.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.byteLength + page.byteLength);
    } else pieces.push(page);
  }
  if (run.length <= SYNC_RUN_PAGES) {
    let at = position;
    for (const p of pieces) {
      writeFullySync(mem.fd, p, at);
      at += p.byteLength;
    }
  } else if (pieces.length === 1) await mem.write(pieces[0]!, 0, pieces[0]!.byteLength, position);
  else await mem.writev(pieces, position);
}

function writeFullySync(fd: number, data: Uint8Array, position: number): void {
  for (let done = 0; done < data.byteLength; )
    done += writeSync(fd, data, done, data.byteLength - done, position + done);
}

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** A record sent again (a later checkpoint) replaces the earlier one for the same vCPU. */
function keep(list: PlatformRecord[], rec: PlatformRecord): void {
  const vcpu = (rec.fields as { vcpuId?: number }).vcpuId;
  const i = list.findIndex((r) => r.name === rec.name && (r.fields as { vcpuId?: number }).vcpuId === vcpu);
  if (i >= 0) list[i] = rec;
  else list.push(rec);
}

function domainType(streamType: string, config: Record<string, unknown> | undefined): DomainType {
  const cInfo = isObject(config?.c_info) ? config.c_info : {};
  const stated = cInfo.type;
  if (streamType === "x86-pv") {
    if (stated !== undefined && stated !== "pv")
      throw new StreamContentError(`config says type ${String(stated)}, stream holds an x86 PV domain`);
    return "pv";
  }
  if (stated !== undefined && stated !== "hvm" && stated !== "pvh") {
    throw new StreamContentError(`config says type ${String(stated)}, stream holds an x86 HVM domain`);
  }
  return stated === "pvh" ? "pvh" : "hvm";
}

function checkVcpuState(type: DomainType, platform: Platform): void {
  const names = new Set(platform.late.map((r) => r.name));
  if (type === "pv" && !names.has("X86_PV_VCPU_BASIC"))
    throw new StreamContentError("PV stream without X86_PV_VCPU_BASIC: no vCPU state");
  if (type !== "pv" && !names.has("HVM_CONTEXT"))
    throw new StreamContentError("HVM stream without HVM_CONTEXT: no vCPU state");
}

function countVcpus(platform: Platform): number {
  const ids = new Set(
    platform.late.filter((r) => r.name === "X86_PV_VCPU_BASIC").map((r) => (r.fields as { vcpuId: number }).vcpuId),
  );
  return Math.max(1, ids.size);
}

/** Memory from libxl's b_info (KiB), whole pages. */
function configPages(config: Record<string, unknown>): number | undefined {
  const bInfo = isObject(config.b_info) ? config.b_info : undefined;
  const kb = bInfo?.max_memkb ?? bInfo?.target_memkb;
  if (typeof kb !== "number" || !Number.isSafeInteger(kb) || kb <= 0) return undefined;
  return Math.ceil(kb / 4);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

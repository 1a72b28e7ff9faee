/**
 * Reads a legacy (pre-v2) save stream, optionally xl-wrapped, as a sequence
 * of events. Layout reference: legacy.py and convert-legacy-stream in Xen's
 * tools/python, and xc_domain_save.c / xc_domain_restore.c in Xen 4.5 (see
 * layout.ts). The phases follow the stream: xl header, p2m_size, PV
 * extended info and p2m frame list, body chunks, PV or HVM tail, device-model
 * record.
 *
 * Memory: one page batch (at most 1024 pages, 4 MiB) or the p2m frame list
 * (at most 4 MiB) at a time; blobs are passed through in source-sized pieces.
 * Every count and length is checked against the format's bounds before
 * anything of that size is read.
 */
import { dataView, hex } from "../bytes.js";
import { REC_LENGTH_MAX, SIZES } from "../layout.js";
import { openSource, type StreamSource } from "../source.js";
import { ByteReader } from "./byte-reader.js";
import { decideShape } from "./detect.js";
import { LegacyStreamError, type LegacyErrorReason } from "./errors.js";
import type { BlobKind, LegacyEvent } from "./events.js";
import {
  CHUNK_BODY,
  CHUNK_NAMES,
  Chunk,
  EXT_BLOCK_HEAD,
  ExtBlock,
  FIRST_DATALESS_TYPE,
  HVM_MAGIC_PFNS,
  HVM_PARAM_CHUNKS,
  type LegacyGuest,
  MAX_BATCH,
  MAX_EXT_INFO,
  MAX_P2M_SIZE,
  MAX_VCPU_ID,
  PAGE_SIZE,
  PFINFO_XTAB,
  PFN_TYPE_SHIFT,
  QEMU_SIGNATURE_EOF,
  QEMU_SIGNATURE_LENGTH,
  QEMU_SIGNATURE_REMUS,
  QEMU_SIGNATURE_V2,
  SHARED_INFO_SIZE,
  type ToolstackWidth,
  VCPU_CONTEXT_32,
  VCPU_CONTEXT_64,
  VCPU_EXTENDED_SIZE,
  XSAVE_HEAD,
  ulongSize,
} from "./layout.js";
import { decodeLegacyXlHeader, isXlHeader } from "./xl.js";

export interface LegacyReadOptions {
  /** Toolstack width; detected from the first bytes when omitted. */
  width?: ToolstackWidth | undefined;
  /** Guest type; detected from the first bytes when omitted. */
  guest?: LegacyGuest | undefined;
  /**
   * Whether an HVM stream ends with a device-model record to read (default
   * true). A function decides once the xl wrapping is known. When false,
   * whatever follows the HVM context is left unread, as Xen's converter does.
   */
  qemu?: boolean | ((xlWrapped: boolean) => boolean);
}

/** Bytes of the stream start that width/guest detection looks at. */
const DETECT_BYTES = 64;
/** Largest per-vcpu xsave area accepted; real ones are a few KiB. */
const MAX_XSAVE = 1024 * 1024;

const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);

export async function* readLegacy(source: StreamSource, options: LegacyReadOptions = {}): AsyncGenerator<LegacyEvent> {
  const r = new ByteReader(openSource(source));
  const fail = (reason: LegacyErrorReason, offset: number, part: string, expected: string, actual?: string): never => {
    throw new LegacyStreamError({ reason, offset, part, expected, actual });
  };
  const u32 = async (part: string, what: string) => dataView(await r.exact(4, part, what)).getUint32(0, true);
  const i32 = async (part: string, what: string) => dataView(await r.exact(4, part, what)).getInt32(0, true);

  // --- xl header -------------------------------------------------------
  let xlWrapped = false;
  if (isXlHeader(await r.peek(SIZES.xlHeader))) {
    xlWrapped = true;
    const fixed = await r.exact(SIZES.xlHeader, "xl header", `${SIZES.xlHeader} bytes of xl header`);
    const header = decodeLegacyXlHeader(fixed, 0);
    const optionalData = await r.exact(
      header.optionalDataLength,
      "xl header",
      `${header.optionalDataLength} bytes of optional data (domain config)`,
    );
    yield { kind: "xl-header", offset: 0, header, optionalData };
  }

  // --- p2m_size, width and guest type --------------------------------------
  const start = r.offset;
  let width = options.width;
  let guest = options.guest;
  const widthDetected = width === undefined;
  const guestDetected = guest === undefined;
  if (width === undefined || guest === undefined) {
    const prefix = await r.peek(DETECT_BYTES);
    ({ width, guest } = decideShape(prefix, { width, guest }, start, prefix.length < DETECT_BYTES));
  }
  const s = ulongSize(width);
  const pv = guest === "pv";
  const readQemu = !pv && (typeof options.qemu === "function" ? options.qemu(xlWrapped) : (options.qemu ?? true));

  /** A ulong as a number; a 64-bit value above 2^53 is returned as Infinity (always out of range). */
  const ulongs = async (count: number, part: string, what: string): Promise<number[]> => {
    const bytes = await r.exact(count * s, part, what);
    const v = dataView(bytes);
    const out = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      if (s === 4) out[i] = v.getUint32(i * 4, true);
      else {
        const hi = v.getUint32(i * 8 + 4, true);
        out[i] =
          hi === 0 ? v.getUint32(i * 8, true) : hi < 0x20_0000 ? hi * 2 ** 32 + v.getUint32(i * 8, true) : Infinity;
      }
    }
    return out;
  };

  const p2mSize = (await ulongs(1, "header", `p2m_size (${s}-byte unsigned long)`))[0]!;
  if (p2mSize < 1 || p2mSize > MAX_P2M_SIZE)
    fail(
      "bad-value",
      start,
      "header",
      `p2m_size 1..${hex(MAX_P2M_SIZE)} (a ${width}-bit toolstack stream)`,
      String(p2mSize),
    );
  yield { kind: "p2m-size", offset: start, p2mSize, width, guest, xlWrapped, widthDetected, guestDetected };

  // --- PV extended info and p2m frame list --------------------------------
  let vcpuContextSize = 0;
  let extendedVcpu = false;
  let xsaveSize = 0;
  let guestWidth: 4 | 8 = 8;
  if (pv) {
    const at = r.offset;
    const marker = await r.exact(s, "extended info", `the extended-info marker ~0UL (${s} bytes)`);
    if (!marker.every((b) => b === 0xff)) {
      fail(
        "bad-value",
        at,
        "extended info",
        "the extended-info marker ~0UL (Xen's saver always writes it for PV guests)",
        Buffer.from(marker).toString("hex"),
      );
    }
    const total = await u32("extended info", "the extended-info length");
    if (total > MAX_EXT_INFO)
      fail("bad-count", at + s, "extended info", `at most ${MAX_EXT_INFO} bytes of extended info`, String(total));
    let soFar = 0;
    while (soFar < total) {
      const blockAt = r.offset;
      if (total - soFar < EXT_BLOCK_HEAD)
        fail(
          "bad-count",
          blockAt,
          "extended info",
          `room for an ${EXT_BLOCK_HEAD}-byte block header in the ${total}-byte extended info`,
          `${total - soFar} bytes left`,
        );
      const head = await r.exact(EXT_BLOCK_HEAD, "extended info", "a block id and size");
      const id = latin1(head.subarray(0, 4));
      const size = dataView(head).getUint32(4, true);
      soFar += EXT_BLOCK_HEAD;
      if (size > total - soFar)
        fail(
          "bad-count",
          blockAt,
          `extended-info block "${id}"`,
          `a size within the extended info (${total - soFar} bytes left)`,
          String(size),
        );
      const data = await r.exact(size, `extended-info block "${id}"`, `${size} bytes of block data`);
      soFar += size;
      if (id === ExtBlock.VCPU) {
        if (vcpuContextSize !== 0)
          fail("bad-value", blockAt, 'extended-info block "vcpu"', "one vcpu block", "a second one");
        // The block's size is sizeof(vcpu_guest_context) for the guest's width.
        if (size === VCPU_CONTEXT_64) guestWidth = 8;
        else if (size === VCPU_CONTEXT_32) guestWidth = 4;
        else
          fail(
            "bad-value",
            blockAt,
            'extended-info block "vcpu"',
            `size ${hex(VCPU_CONTEXT_64, 1)} (64-bit guest) or ${hex(VCPU_CONTEXT_32, 1)} (32-bit guest)`,
            hex(size, 1),
          );
        vcpuContextSize = size;
        yield { kind: "pv-info", offset: blockAt, guestWidth, ptLevels: guestWidth === 8 ? 4 : 3 };
      } else if (id === ExtBlock.EXTV) {
        extendedVcpu = true;
      } else if (id === ExtBlock.XCNT) {
        if (size < 4)
          fail("bad-count", blockAt, 'extended-info block "xcnt"', "at least 4 bytes (the xsave size)", String(size));
        xsaveSize = dataView(data).getUint32(0, true);
        if (xsaveSize !== 0 && (xsaveSize < XSAVE_HEAD || xsaveSize > MAX_XSAVE)) {
          fail(
            "bad-count",
            blockAt,
            'extended-info block "xcnt"',
            `an xsave size of 0 or ${XSAVE_HEAD}..${MAX_XSAVE}`,
            String(xsaveSize),
          );
        }
      } else {
        fail("bad-value", blockAt, "extended info", 'a block id "vcpu", "extv" or "xcnt"', JSON.stringify(id));
      }
    }
    if (vcpuContextSize === 0)
      fail("bad-value", at, "extended info", 'a "vcpu" block (it gives the guest width)', "none");

    const perFrame = PAGE_SIZE / guestWidth;
    const count = Math.floor((p2mSize - 1) / perFrame) + 1;
    const framesAt = r.offset;
    const raw = await r.exact(
      count * s,
      "p2m frame list",
      `${count} frame numbers (${s} bytes each) for p2m_size ${p2mSize}`,
    );
    yield { kind: "p2m-frames", offset: framesAt, count, entrySize: s, raw };
  }

  // --- body chunks -------------------------------------------------------------
  let online: number[] | undefined;
  for (;;) {
    const at = r.offset;
    const marker = await i32("body", "a chunk marker (i32)");
    if (marker > 0) {
      if (marker > MAX_BATCH)
        fail("bad-count", at, "page batch", `at most ${MAX_BATCH} pages in a batch`, String(marker));
      const entries = await ulongs(marker, "page batch", `${marker} pfn entries (${s} bytes each)`);
      const seen = new Set<number>();
      let dataPages = 0;
      let kept = 0;
      for (const [i, entry] of entries.entries()) {
        if (entry > 0xffff_ffff)
          fail(
            "bad-value",
            at + 4 + i * s,
            "page batch",
            `pfn entry ${i} within 32 bits (type in 31-28, pfn in 27-0)`,
            String(entry),
          );
        const type = entry >>> PFN_TYPE_SHIFT;
        if (type >= 5 && type <= 8)
          fail("bad-value", at + 4 + i * s, "page batch", `a known page type in pfn entry ${i}`, hex(type, 1));
        if (type < FIRST_DATALESS_TYPE) dataPages++;
        // The saver pads with XTAB entries for pfn 0; converters drop them.
        if (entry === PFINFO_XTAB * 2 ** PFN_TYPE_SHIFT) continue;
        if (seen.has(entry))
          fail("bad-value", at + 4 + i * s, "page batch", "no pfn entry twice in a batch", hex(entry));
        seen.add(entry);
        kept++;
      }
      if (kept === 0)
        fail(
          "bad-value",
          at,
          "page batch",
          "a batch with an entry other than XTAB for pfn 0 (the saver never writes an empty batch)",
        );
      const pages = await r.exact(dataPages * PAGE_SIZE, "page batch", `${dataPages} pages of data`);
      yield { kind: "page-batch", offset: at, entries, pages };
      continue;
    }
    if (marker === Chunk.END) {
      yield { kind: "end-of-body", offset: at };
      break;
    }
    const name = CHUNK_NAMES[marker];
    const part = `chunk ${name ?? marker}`;
    const param = HVM_PARAM_CHUNKS.get(marker);
    if (param !== undefined) {
      if (pv) fail("bad-value", at, part, "no HVM-only chunk in a PV stream");
      const body = dataView(
        await r.exact(CHUNK_BODY.hvmParam, part, `${CHUNK_BODY.hvmParam} bytes (u32 padding, u64 value)`),
      );
      yield { kind: "hvm-param", offset: at, chunk: marker, param, value: body.getBigUint64(4, true) };
      continue;
    }
    switch (marker) {
      case Chunk.ENABLE_VERIFY_MODE:
      case Chunk.LAST_CHECKPOINT:
        yield { kind: "marker", offset: at, chunk: marker, name: name! };
        break;
      case Chunk.VCPU_INFO: {
        if (online !== undefined) fail("bad-value", at, part, "one VCPU_INFO chunk", "a second one");
        const maxVcpuId = await i32(part, "max_vcpu_id (i32)");
        if (maxVcpuId < 0 || maxVcpuId > MAX_VCPU_ID)
          fail("bad-count", at + 4, part, `max_vcpu_id 0..${MAX_VCPU_ID}`, String(maxVcpuId));
        const words = Math.floor(maxVcpuId / 64) + 1;
        const map = dataView(await r.exact(words * 8, part, `${words} u64 words of online-vcpu bitmap`));
        online = [];
        for (let w = 0; w < words; w++) {
          for (let half = 0; half < 2; half++) {
            const bits = map.getUint32(w * 8 + half * 4, true);
            for (let b = 0; b < 32; b++) if ((bits >>> b) & 1) online.push(w * 64 + half * 32 + b);
          }
        }
        yield { kind: "vcpu-info", offset: at, maxVcpuId, online };
        break;
      }
      case Chunk.TSC_INFO: {
        const v = dataView(
          await r.exact(CHUNK_BODY.tscInfo, part, `${CHUNK_BODY.tscInfo} bytes (mode, nsec, khz, incarnation)`),
        );
        yield {
          kind: "tsc-info",
          offset: at,
          mode: v.getUint32(0, true),
          nsec: v.getBigUint64(4, true),
          khz: v.getUint32(12, true),
          incarnation: v.getUint32(16, true),
        };
        break;
      }
      case Chunk.TOOLSTACK: {
        const length = await u32(part, "the toolstack data length (u32)");
        yield* blob(at, "toolstack", length, part);
        break;
      }
      case Chunk.TMEM:
      case Chunk.TMEM_EXTRA:
      case Chunk.COMPRESSED_DATA:
      case Chunk.ENABLE_COMPRESSION:
        // Xen's converter stops here too: tmem and Remus compression were never converted.
        fail("unsupported", at, part, "no tmem or Remus-compression chunk (not convertible to v2)");
        break;
      default:
        fail("bad-value", at, "body", "a page batch (1..1024), 0 (end) or a known chunk id (-1..-20)", String(marker));
    }
  }

  // --- tail ----------------------------------------------------------------
  if (pv) {
    const at = r.offset;
    const count = await u32("PV tail", "the count of unmapped pfns (u32)");
    if (count > p2mSize) fail("bad-count", at, "PV tail", `at most p2m_size (${p2mSize}) unmapped pfns`, String(count));
    // Xen's restore ignores these pfns ("bogus"), so they are skipped unread.
    for await (const _ of r.pieces(count * s, "PV tail", `${count} unmapped pfns`)) void _;
    yield { kind: "unmapped-pfns", offset: at, count };
    const vcpus =
      online ??
      fail(
        "bad-value",
        r.offset,
        "PV tail",
        "a VCPU_INFO chunk in the body (PV streams name their online vcpus)",
        "none",
      );
    for (const vcpuId of vcpus) {
      const vcpuAt = r.offset;
      const part = `vcpu ${vcpuId} context`;
      const basic = await r.exact(vcpuContextSize, part, `${vcpuContextSize} bytes of vcpu_guest_context`);
      const extended = extendedVcpu
        ? await r.exact(VCPU_EXTENDED_SIZE, part, `${VCPU_EXTENDED_SIZE} bytes of extended context`)
        : undefined;
      let xsave: { mask: bigint; data: Uint8Array } | undefined;
      if (xsaveSize !== 0) {
        const headAt = r.offset;
        const head = dataView(await r.exact(XSAVE_HEAD, part, "the xsave mask and size (2 x u64)"));
        const size = head.getBigUint64(8, true);
        if (size !== BigInt(xsaveSize - XSAVE_HEAD))
          fail("bad-count", headAt, part, `xsave size ${xsaveSize - XSAVE_HEAD} (from the "xcnt" block)`, String(size));
        xsave = {
          mask: head.getBigUint64(0, true),
          data: await r.exact(xsaveSize - XSAVE_HEAD, part, `${xsaveSize - XSAVE_HEAD} bytes of xsave area`),
        };
      }
      yield {
        kind: "vcpu",
        offset: vcpuAt,
        vcpuId,
        basic,
        ...(extended ? { extended } : {}),
        ...(xsave ? { xsave } : {}),
      };
    }
    const shAt = r.offset;
    yield {
      kind: "shared-info",
      offset: shAt,
      data: await r.exact(SHARED_INFO_SIZE, "PV tail", "the 4096-byte shared info page"),
    };
    yield { kind: "libxc-end", offset: r.offset };
  } else {
    const at = r.offset;
    const magic = dataView(
      await r.exact(HVM_MAGIC_PFNS, "HVM tail", "three u64 magic pfns (ioreq, buffered ioreq, store)"),
    );
    yield {
      kind: "magic-pfns",
      offset: at,
      ioreq: magic.getBigUint64(0, true),
      bufioreq: magic.getBigUint64(8, true),
      store: magic.getBigUint64(16, true),
    };
    const ctxAt = r.offset;
    const length = await u32("HVM tail", "the HVM context length (u32)");
    if (length === 0) fail("bad-count", ctxAt, "HVM tail", "a non-empty HVM context", "0");
    if (length > REC_LENGTH_MAX)
      fail("bad-count", ctxAt, "HVM tail", `an HVM context of at most ${REC_LENGTH_MAX} bytes`, String(length));
    yield* blob(ctxAt, "hvm-context", length, "HVM context");
    yield { kind: "libxc-end", offset: r.offset };
  }

  // --- device-model record -------------------------------------------------
  if (readQemu) {
    const at = r.offset;
    const signature = await r.exact(
      QEMU_SIGNATURE_LENGTH,
      "device-model record",
      `the ${QEMU_SIGNATURE_LENGTH}-byte device-model signature (use --skip-qemu for a stream without one)`,
    );
    const sig = latin1(signature);
    if (sig === QEMU_SIGNATURE_EOF || sig === QEMU_SIGNATURE_REMUS) {
      fail(
        "unsupported",
        at,
        "device-model record",
        `signature "${QEMU_SIGNATURE_V2}" (Xen's converter handles no other)`,
        JSON.stringify(sig),
      );
    }
    if (sig !== QEMU_SIGNATURE_V2)
      fail("bad-value", at, "device-model record", `signature "${QEMU_SIGNATURE_V2}"`, JSON.stringify(sig));
    const length = await u32("device-model record", "the device-model state length (u32)");
    const max = REC_LENGTH_MAX - SIZES.emulatorHeader;
    if (length > max)
      fail(
        "bad-count",
        at + QEMU_SIGNATURE_LENGTH,
        "device-model record",
        `device-model state of at most ${max} bytes`,
        String(length),
      );
    yield* blob(at, "qemu", length, "device-model record", signature);
  }

  // What follows an HVM context left unread on purpose is not checked.
  if (pv || readQemu) {
    const at = r.offset;
    const extra = await r.drain();
    if (extra > 0) fail("trailing-data", at, "stream end", "the end of the stream", `${extra} more bytes`);
  }
  yield { kind: "end", offset: r.offset };

  async function* blob(
    offset: number,
    kind: BlobKind,
    length: number,
    part: string,
    signature?: Uint8Array,
  ): AsyncGenerator<LegacyEvent> {
    yield { kind: "blob-start", offset, blob: kind, length, ...(signature ? { signature } : {}) };
    for await (const bytes of r.pieces(length, part, `${length} bytes of ${part}`)) {
      yield { kind: "blob-data", offset: r.offset - bytes.length, blob: kind, bytes };
    }
    yield { kind: "blob-end", offset: r.offset, blob: kind };
  }
}

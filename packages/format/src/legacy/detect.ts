/**
 * Telling a legacy stream's toolstack width and guest type from its first
 * bytes. Layout reference: legacy.py "HEADER" and "BODY PHASE" (see
 * layout.ts); xc_domain_save.c in Xen 4.5 for what the saver writes first.
 *
 * Neither is recorded in the stream. What the bytes allow:
 * - p2m_size (a ulong) opens every stream and is at most 2^28 - 1 (the saver
 *   refuses bigger domains), so in a 64-bit stream bytes 4-7 are zero.
 * - A PV stream follows it with ~0UL and an extended-info block whose first
 *   id is "vcpu", "extv" or "xcnt": a 12-byte signature at offset 4 (32-bit)
 *   or 8 (64-bit) that no HVM stream can show.
 * - An HVM stream follows it with a chunk marker (i32): 1..1024 pages, a
 *   known negative chunk id, or 0 for an empty body.
 * The one reading left open is a zero word at offset 4 of an HVM stream: the
 * high half of a 64-bit p2m_size, or a 32-bit stream with no page data at
 * all. The magic pfns that would follow an empty body usually settle it;
 * when they do not, the caller must give the width.
 */
import { dataView } from "../bytes.js";
import {
  IHDR_MARKER,
  LIBXL_IDENT,
  SIZES,
  XL_BYTEORDER_VALUE,
  XL_MAGIC,
  XL_MANDATORY_FLAG_STREAMV2,
} from "../layout.js";
import { startsWithXlMagic } from "../xl-header.js";
import { LegacyDetectError, LegacyStreamError } from "./errors.js";
import {
  EXT_BLOCK_HEAD,
  EXT_BLOCK_IDS,
  FIRST_DATALESS_TYPE,
  type LegacyGuest,
  LOWEST_CHUNK_ID,
  MAX_BATCH,
  MAX_EXT_INFO,
  MAX_P2M_SIZE,
  PFN_MASK,
  PFN_TYPE_SHIFT,
  type ToolstackWidth,
  ulongSize,
} from "./layout.js";

export interface LegacyShape {
  width: ToolstackWidth;
  guest: LegacyGuest;
}

export interface ShapeHints {
  width?: ToolstackWidth | undefined;
  guest?: LegacyGuest | undefined;
}

/** "fits": the bytes match; "open": too few bytes to tell; otherwise why not. */
type Verdict = { fits: true; complete: boolean } | { fits: false; why: string };

const fits = (complete: boolean): Verdict => ({ fits: true, complete });
const not = (why: string): Verdict => ({ fits: false, why });

function ulong(bytes: Uint8Array, at: number, width: ToolstackWidth): number | undefined {
  const v = dataView(bytes);
  if (width === 32) return v.getUint32(at, true);
  const value = v.getBigUint64(at, true);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

function checkP2mSize(bytes: Uint8Array, width: ToolstackWidth): number | string {
  const p2m = ulong(bytes, 0, width);
  if (p2m === undefined || p2m === 0 || p2m > MAX_P2M_SIZE) {
    return `p2m_size ${p2m === undefined ? "beyond 2^53" : p2m} is not 1..${MAX_P2M_SIZE}`;
  }
  return p2m;
}

function pvVerdict(bytes: Uint8Array, width: ToolstackWidth): Verdict {
  const s = ulongSize(width);
  if (bytes.length < s) return fits(false);
  const p2m = checkP2mSize(bytes, width);
  if (typeof p2m === "string") return not(p2m);
  const markerEnd = Math.min(bytes.length, 2 * s);
  for (let i = s; i < markerEnd; i++)
    if (bytes[i] !== 0xff) return not(`no extended-info marker (~0UL) at offset ${s}`);
  if (bytes.length < 2 * s + 4) return fits(false);
  const length = dataView(bytes).getUint32(2 * s, true);
  if (length < EXT_BLOCK_HEAD || length > MAX_EXT_INFO)
    return not(`extended-info length ${length} is not ${EXT_BLOCK_HEAD}..${MAX_EXT_INFO}`);
  if (bytes.length < 2 * s + 8) return fits(false);
  const id = String.fromCharCode(...bytes.subarray(2 * s + 4, 2 * s + 8));
  if (!EXT_BLOCK_IDS.includes(id)) return not(`no extended-info block id at offset ${2 * s + 4}`);
  return fits(true);
}

/** A page batch of 1..MAX_BATCH pages, a known chunk id, or 0 (end of body). */
function validMarker(marker: number): boolean {
  return marker >= LOWEST_CHUNK_ID && marker <= MAX_BATCH;
}

function hvmVerdict(bytes: Uint8Array, width: ToolstackWidth): Verdict {
  const s = ulongSize(width);
  if (bytes.length < s) return fits(false);
  const p2m = checkP2mSize(bytes, width);
  if (typeof p2m === "string") return not(p2m);
  if (bytes.length < s + 4) return fits(false);
  const v = dataView(bytes);
  const marker = v.getInt32(s, true);
  if (!validMarker(marker)) return not(`${marker} at offset ${s} is not a chunk marker`);
  if (marker > 0) {
    // A page batch: its first pfn entry must name a page of this domain.
    if (bytes.length < 2 * s + 4) return fits(false);
    const entry = ulong(bytes, s + 4, width);
    if (entry === undefined || entry > 0xffff_ffff) return not(`pfn entry at offset ${s + 4} has bits above 31 set`);
    const type = entry >>> PFN_TYPE_SHIFT;
    if (type >= 5 && type <= 8) return not(`pfn entry at offset ${s + 4} has reserved type ${type}`);
    if (type < FIRST_DATALESS_TYPE && (entry & PFN_MASK) >= p2m)
      return not(`pfn entry at offset ${s + 4} is beyond p2m_size`);
    return fits(true);
  }
  if (marker < 0) return fits(true);
  // An empty body: the HVM tail's three magic pfns follow, inside the domain.
  for (let i = 0; i < 3; i++) {
    const at = s + 4 + 8 * i;
    if (bytes.length < at + 8) return fits(false);
    const pfn = v.getBigUint64(at, true);
    if (pfn >= BigInt(p2m))
      return not(`end of body at offset ${s}, but magic pfn ${pfn} at offset ${at} is beyond p2m_size ${p2m}`);
  }
  return fits(true);
}

const describe = (shape: LegacyShape) => `${shape.width}-bit toolstack ${shape.guest.toUpperCase()}`;

/**
 * Decides width and guest type from the first bytes of a legacy stream
 * (after any xl header). `whole` says the bytes are the entire stream.
 * Throws LegacyDetectError when more than one reading fits, and
 * LegacyStreamError when none does.
 */
export function decideShape(bytes: Uint8Array, hints: ShapeHints, offset = 0, whole = false): LegacyShape {
  const widths: ToolstackWidth[] = hints.width ? [hints.width] : [32, 64];
  const guests: LegacyGuest[] = hints.guest ? [hints.guest] : ["pv", "hvm"];
  const judged: { shape: LegacyShape; verdict: Verdict }[] = [];
  for (const guest of guests) {
    for (const width of widths) {
      judged.push({
        shape: { width, guest },
        verdict: guest === "pv" ? pvVerdict(bytes, width) : hvmVerdict(bytes, width),
      });
    }
  }
  // The PV signature is 12+ exact bytes no HVM stream starts with: when it
  // matches in full, the HVM readings (whose check is weaker) are dropped.
  const pvCertain = judged.some((j) => j.shape.guest === "pv" && j.verdict.fits && j.verdict.complete);
  const open = judged.filter((j) => j.verdict.fits && !(pvCertain && j.shape.guest === "hvm"));
  if (open.length === 1) return open[0]!.shape;
  if (open.length === 0) {
    const why = judged.map((j) => `${describe(j.shape)}: ${(j.verdict as { why: string }).why}`).join("; ");
    throw new LegacyStreamError({
      reason: "not-legacy",
      offset,
      part: "stream start",
      expected: "a legacy stream's p2m_size and what follows it",
      actual: why,
    });
  }
  const readings = open.map((j) => describe(j.shape)).join(", ");
  const sameWidth = open.every((j) => j.shape.width === open[0]!.shape.width);
  const settle = sameWidth
    ? "the guest type (--guest pv|hvm)"
    : hints.guest || open.every((j) => j.shape.guest === open[0]!.shape.guest)
      ? "the toolstack width (--width 32|64)"
      : "the toolstack width and guest type (--width 32|64, --guest pv|hvm)";
  const short = open.some((j) => j.verdict.fits && !j.verdict.complete);
  const cause = short
    ? whole
      ? `the stream is only ${bytes.length} bytes long`
      : `only ${bytes.length} bytes were available`
    : "bytes 4-7 are zero: the high half of a 64-bit p2m_size, or the end-of-body marker of a 32-bit stream with no pages";
  throw new LegacyDetectError({
    reason: "undecidable",
    offset,
    part: "stream start",
    expected: `${settle} to be given, because ${cause}`,
    actual: `readings that fit: ${readings}`,
  });
}

export interface LegacyDetection {
  /** True when the bytes are a legacy stream (possibly xl-wrapped). */
  legacy: boolean;
  /** The bytes open with an xl save-file header. */
  xlWrapped: boolean;
  width?: ToolstackWidth;
  guest?: LegacyGuest;
  /** Why width or guest (or legacy itself) is left undecided. */
  undecided?: string;
}

/** Offset of the legacy stream inside an xl file, or undefined if too few bytes to tell. */
export function xlPayloadOffset(bytes: Uint8Array): number | undefined {
  if (bytes.length < SIZES.xlHeader) return undefined;
  return SIZES.xlHeader + dataView(bytes).getUint32(44, true);
}

/**
 * Looks at the first bytes of a save image and says whether it is legacy,
 * and if so its width and guest type where the bytes allow. A few hundred
 * bytes suffice for an unwrapped stream; an xl-wrapped one needs its header
 * and domain config too.
 */
export function detectLegacy(firstBytes: Uint8Array, hints: ShapeHints = {}): LegacyDetection {
  let body = firstBytes;
  let xlWrapped = false;
  if (firstBytes.length >= XL_MAGIC.length && startsWithXlMagic(firstBytes)) {
    xlWrapped = true;
    if (firstBytes.length < SIZES.xlHeader)
      return { legacy: false, xlWrapped, undecided: "the xl header is incomplete" };
    const v = dataView(firstBytes);
    const little = v.getUint32(32, true) === XL_BYTEORDER_VALUE;
    if (!little) return { legacy: false, xlWrapped, undecided: "a big-endian or malformed xl header" };
    if (v.getUint32(36, true) & XL_MANDATORY_FLAG_STREAMV2) return { legacy: false, xlWrapped };
    const start = xlPayloadOffset(firstBytes)!;
    if (firstBytes.length <= start)
      return { legacy: true, xlWrapped, undecided: "the bytes end inside the xl header's domain config" };
    body = firstBytes.subarray(start);
  } else if (firstBytes.length >= 8) {
    const head = dataView(firstBytes).getBigUint64(0, false);
    if (head === LIBXL_IDENT || head === IHDR_MARKER) return { legacy: false, xlWrapped };
  }
  try {
    return { legacy: true, xlWrapped, ...decideShape(body, hints) };
  } catch (err) {
    if (err instanceof LegacyDetectError) {
      return {
        legacy: true,
        xlWrapped,
        undecided: err.message,
        ...(hints.width ? { width: hints.width } : {}),
        ...(hints.guest ? { guest: hints.guest } : {}),
      };
    }
    if (err instanceof LegacyStreamError) return { legacy: false, xlWrapped, undecided: err.message };
    throw err;
  }
}

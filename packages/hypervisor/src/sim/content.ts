import { Prng, fmix32 } from "./prng.js";

export const PAGE_SIZE = 4096;

/**
 * What a page holds. Real guest memory is a mix: free memory (zero), page
 * cache of text files, kernel/heap structures (small integers, pointers,
 * repeated layouts) and compressed or encrypted data (incompressible).
 */
export type PageClass = "zero" | "text" | "structured" | "random";

/** Pages come in runs of one class, as allocators hand out memory in chunks. */
const REGION_PAGES = 64;

/** Cumulative share of regions per class: 35% zero, 25% text, 25% structured, 15% random. */
const MIX: Array<[PageClass, number]> = [
  ["zero", 0.35],
  ["text", 0.6],
  ["structured", 0.85],
  ["random", 1],
];

export function pageClass(seed: number, pfn: number): PageClass {
  const region = Math.floor(pfn / REGION_PAGES);
  const x = fmix32(fmix32(seed >>> 0) ^ fmix32(region + 0x51ed27)) / 0x1_0000_0000;
  const cls = MIX.find(([, upTo]) => x < upTo)![0];
  // A few free pages sit inside every used region.
  if (cls !== "zero" && fmix32(fmix32(seed ^ 0x7f4a7c15) ^ pfn) % 10 === 0) return "zero";
  return cls;
}

const WORDS = (
  "the of and to in is was for that on with as by at from this be are or it an " +
  "domain memory page kernel xen guest host save restore migrate device block net " +
  "error warning info debug start stop running paused config value status request " +
  "user system service process thread file buffer cache queue network packet http"
).split(" ");

/**
 * Fills `out` (4096 bytes) with the content of `pfn` at `generation` (0 is the
 * domain's initial content; n is the n-th page write while running). Pure:
 * the same arguments always give the same bytes.
 */
export function fillPage(out: Uint8Array, seed: number, pfn: number, generation: number): void {
  let cls = pageClass(seed, pfn);
  // A page the guest writes is rarely left all zero.
  if (generation > 0 && cls === "zero") cls = "structured";
  if (cls === "zero") {
    out.fill(0);
    return;
  }
  const rng = new Prng(seed, pfn, generation);
  if (cls === "random") fillRandom(out, rng);
  else if (cls === "text") fillText(out, rng);
  else fillStructured(out, rng, pfn);
}

function fillRandom(out: Uint8Array, rng: Prng): void {
  const words = new Uint32Array(out.buffer, out.byteOffset, PAGE_SIZE / 4);
  for (let i = 0; i < words.length; i++) words[i] = rng.next();
}

function fillText(out: Uint8Array, rng: Prng): void {
  let i = 0;
  while (i < PAGE_SIZE) {
    const word = WORDS[rng.below(WORDS.length)]!;
    for (let j = 0; j < word.length && i < PAGE_SIZE; j++) out[i++] = word.charCodeAt(j);
    if (i < PAGE_SIZE) out[i++] = rng.below(12) === 0 ? 0x0a : 0x20;
  }
}

/** 64-byte records: ids, flags, lengths, kernel-looking pointers, zero tails. */
function fillStructured(out: Uint8Array, rng: Prng, pfn: number): void {
  const view = new DataView(out.buffer, out.byteOffset, PAGE_SIZE);
  const base = rng.next() & 0xfffff000;
  for (let off = 0; off < PAGE_SIZE; off += 64) {
    view.setUint32(off, (pfn * 64 + off / 64) >>> 0, true);
    view.setUint32(off + 4, rng.below(16), true);
    view.setUint32(off + 8, rng.below(4096), true);
    view.setUint32(off + 12, 0, true);
    view.setUint32(off + 16, (base + rng.below(4096) * 8) >>> 0, true);
    view.setUint32(off + 20, 0xffff8880, true);
    view.setUint32(off + 24, rng.next(), true);
    view.setUint32(off + 28, 0xffff8880, true);
    out.fill(0, off + 32, off + 64);
  }
}

/**
 * A small deterministic PRNG (xoshiro128**) seeded from any list of integers,
 * so that a page's content is a pure function of (seed, pfn, generation) and
 * the same domain comes out the same on every host and every run.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...keys: number[]) {
    let h = 0x9e3779b9;
    for (const k of keys) {
      // Numbers up to 2^53: feed both 32-bit halves.
      h = fmix32(h ^ (k >>> 0));
      h = fmix32(h ^ Math.floor(k / 0x1_0000_0000));
    }
    this.a = fmix32(h ^ 0x243f6a88);
    this.b = fmix32(h ^ 0x85a308d3);
    this.c = fmix32(h ^ 0x13198a2e);
    this.d = fmix32(h ^ 0x03707344) | 1; // never the all-zero state
  }

  /** Next uint32. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform integer in [0, n) for n ≤ 2^32 (bias is irrelevant here). */
  below(n: number): number {
    return n <= 0x1_0000_0000 ? Math.floor((this.next() / 0x1_0000_0000) * n) : Math.floor(this.float() * n);
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return (this.next() * 0x1_0000_0000 + this.next()) / 2 ** 64;
  }
}

/** MurmurHash3's finaliser: a cheap, well-mixing 32-bit hash. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { NativeArgumentError, PAGE_SIZE, zeroPages } from "../lib/index.js";

describe("zeroPages", () => {
  it("flags exactly the all-zero pages", () => {
    const pages = Buffer.alloc(6 * PAGE_SIZE);
    pages[1 * PAGE_SIZE] = 1; // first byte
    pages[2 * PAGE_SIZE + PAGE_SIZE - 1] = 0x80; // last byte, top bit
    pages[3 * PAGE_SIZE + 2049] = 1; // middle, unaligned
    randomBytes(PAGE_SIZE).copy(pages, 5 * PAGE_SIZE);
    pages[5 * PAGE_SIZE] = pages[5 * PAGE_SIZE]! | 1; // never all zero by chance
    expect(Array.from(zeroPages(pages))).toEqual([1, 0, 0, 0, 1, 0]);
  });

  it("sees every single non-zero byte position", () => {
    // One page per position of a set byte in a 64-byte line, at the start,
    // middle and end of the page, so every word and line edge is covered.
    const positions = [...Array(64).keys()].flatMap((i) => [i, 2048 + i, PAGE_SIZE - 64 + i]);
    const pages = Buffer.alloc(positions.length * PAGE_SIZE);
    for (const [i, pos] of positions.entries()) pages[i * PAGE_SIZE + pos] = 1;
    expect(zeroPages(pages).every((flag) => flag === 0)).toBe(true);
  });

  it("works on pages at unaligned offsets", () => {
    const buffer = Buffer.alloc(2 * PAGE_SIZE + 2);
    buffer[PAGE_SIZE + 1] = 7; // last byte of the page at offset 2, just past the one at offset 1
    expect(Array.from(zeroPages(buffer, [1, 2, PAGE_SIZE + 2]))).toEqual([1, 0, 1]);
  });

  it("returns an empty result for an empty batch", () => {
    expect(zeroPages(Buffer.alloc(0)).length).toBe(0);
  });

  it("refuses a partial page", () => {
    expect(() => zeroPages(Buffer.alloc(PAGE_SIZE - 1))).toThrow(NativeArgumentError);
  });
});

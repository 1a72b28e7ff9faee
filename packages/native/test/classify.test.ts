import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  classifyPagesAsync,
  hashPages,
  NativeArgumentError,
  PAGE_OTHER,
  PAGE_SAME,
  PAGE_SIZE,
  PAGE_ZERO,
} from "../lib/index.js";

describe("classifyPagesAsync", () => {
  it("writes hashPages' digests and flags zero pages, pages equal to their expected digest, and the rest", async () => {
    const count = 37;
    const pages = randomBytes(count * PAGE_SIZE);
    for (const z of [0, 16, 36]) pages.fill(0, z * PAGE_SIZE, (z + 1) * PAGE_SIZE);
    const reference = hashPages(pages);
    // Expected digests: the real ones, except pages 3 and 20 (changed), and only 30 of them (pages 30.. have none).
    const expected = Buffer.from(reference.subarray(0, 30 * 32));
    expected[3 * 32]! ^= 1;
    expected[20 * 32 + 31]! ^= 1;
    const digests = new Uint8Array(count * 32);
    const flags = new Uint8Array(count);
    await classifyPagesAsync(pages, undefined, expected, digests, flags);
    expect(Buffer.from(digests)).toEqual(reference);
    for (let i = 0; i < count; i++) {
      const want = [0, 16, 36].includes(i) ? PAGE_ZERO : i === 3 || i === 20 || i >= 30 ? PAGE_OTHER : PAGE_SAME;
      expect(flags[i], `page ${i}`).toBe(want);
    }
  });

  it("reads pages at offsets, also in a SharedArrayBuffer", async () => {
    const shared = new Uint8Array(new SharedArrayBuffer(3 * PAGE_SIZE + 8));
    shared.set(randomBytes(shared.length));
    const offsets = [8, 2 * PAGE_SIZE + 8];
    const digests = new Uint8Array(64);
    const flags = new Uint8Array(2);
    await classifyPagesAsync(shared, offsets, new Uint8Array(0), digests, flags);
    const copy = Buffer.from(shared.slice(0));
    expect(Buffer.from(digests)).toEqual(hashPages(copy, offsets));
    expect([...flags]).toEqual([PAGE_OTHER, PAGE_OTHER]);
  });

  it("refuses outputs too small for the batch and expected digests that are not whole", async () => {
    const pages = Buffer.alloc(2 * PAGE_SIZE);
    await expect(
      classifyPagesAsync(pages, undefined, new Uint8Array(0), new Uint8Array(32), new Uint8Array(2)),
    ).rejects.toBeInstanceOf(NativeArgumentError);
    await expect(
      classifyPagesAsync(pages, undefined, new Uint8Array(31), new Uint8Array(64), new Uint8Array(2)),
    ).rejects.toBeInstanceOf(NativeArgumentError);
  });
});

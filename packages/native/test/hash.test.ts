import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { blake3, DIGEST_LENGTH, hashPages, hashPagesAsync, NativeArgumentError, PAGE_SIZE } from "../lib/index.js";
import { BLAKE3_VECTORS, vectorInput } from "./blake3-vectors.js";

const digestAt = (digests: Buffer, i: number) =>
  digests.subarray(i * DIGEST_LENGTH, (i + 1) * DIGEST_LENGTH).toString("hex");
const vectorPage = vectorInput(PAGE_SIZE);
const VECTOR_4096 = BLAKE3_VECTORS.find((v) => v.length === PAGE_SIZE)!.hash;

describe("blake3", () => {
  it.each(BLAKE3_VECTORS)("matches the official vector for $length bytes", ({ length, hash }) => {
    expect(blake3(vectorInput(length)).toString("hex")).toBe(hash);
  });
});

describe("hashPages", () => {
  it("matches the official 4096-byte vector at every position of a batch", () => {
    // 37 pages: two full SIMD groups of 16 and a partial one, the vector page
    // placed in each group and at both ends.
    const count = 37;
    const pages = randomBytes(count * PAGE_SIZE);
    const at = [0, 15, 16, 31, 36];
    for (const i of at) vectorPage.copy(pages, i * PAGE_SIZE);
    const digests = hashPages(pages);
    for (const i of at) expect(digestAt(digests, i)).toBe(VECTOR_4096);
  });

  it("agrees with blake3() page by page for every batch size up to 40", () => {
    const pages = randomBytes(40 * PAGE_SIZE);
    for (let n = 0; n <= 40; n++) {
      const batch = pages.subarray(0, n * PAGE_SIZE);
      const digests = hashPages(batch);
      expect(digests.length).toBe(n * DIGEST_LENGTH);
      for (let i = 0; i < n; i++) {
        expect(digestAt(digests, i)).toBe(blake3(batch.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE)).toString("hex"));
      }
    }
  });

  it("gives different digests for pages differing in one bit", () => {
    const pages = Buffer.alloc(2 * PAGE_SIZE);
    pages[PAGE_SIZE + 4095] = 1;
    const digests = hashPages(pages);
    expect(digestAt(digests, 0)).not.toBe(digestAt(digests, 1));
  });

  it("hashes pages at byte offsets, unaligned and repeated", () => {
    const buffer = Buffer.concat([Buffer.from([1, 2, 3]), vectorPage, randomBytes(PAGE_SIZE)]);
    const offsets = [3, 3 + PAGE_SIZE, 3];
    const digests = hashPages(buffer, offsets);
    expect(digests.length).toBe(3 * DIGEST_LENGTH);
    expect(digestAt(digests, 0)).toBe(VECTOR_4096);
    expect(digestAt(digests, 1)).toBe(blake3(buffer.subarray(3 + PAGE_SIZE)).toString("hex"));
    expect(digestAt(digests, 2)).toBe(VECTOR_4096);
    expect(hashPages(buffer, new Float64Array([3]))).toEqual(digests.subarray(0, DIGEST_LENGTH));
  });

  it("accepts a Uint8Array view into a larger buffer", () => {
    const backing = Buffer.concat([randomBytes(100), vectorPage, randomBytes(100)]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 100, PAGE_SIZE);
    expect(digestAt(hashPages(view), 0)).toBe(VECTOR_4096);
  });

  it.each([
    [
      "a length that is not a multiple of 4096",
      () => hashPages(Buffer.alloc(PAGE_SIZE + 1)),
      /not a multiple of the 4096-byte page size/,
    ],
    ["a string", () => hashPages("abc" as unknown as Uint8Array), /must be a Buffer or Uint8Array/],
    [
      "a Uint16Array",
      () => hashPages(new Uint16Array(2048) as unknown as Uint8Array),
      /must be a Buffer or Uint8Array/,
    ],
    [
      "an offset past the end",
      () => hashPages(Buffer.alloc(2 * PAGE_SIZE), [PAGE_SIZE + 1]),
      /offsets\[0\] = 4097 does not start a whole/,
    ],
    ["a negative offset", () => hashPages(Buffer.alloc(PAGE_SIZE), [0, -1]), /offsets\[1\] = -1/],
    ["a fractional offset", () => hashPages(Buffer.alloc(2 * PAGE_SIZE), [0.5]), /offsets\[0\] = 0.5/],
    ["a NaN offset", () => hashPages(Buffer.alloc(PAGE_SIZE), [Number.NaN]), /offsets\[0\] = -?nan/i],
    [
      "any offset into a buffer shorter than a page",
      () => hashPages(Buffer.alloc(100), [0]),
      /inside the 100-byte buffer/,
    ],
  ])("refuses %s with NativeArgumentError", (_name, call, message) => {
    expect(call).toThrow(NativeArgumentError);
    expect(call).toThrow(message);
    try {
      call();
    } catch (error) {
      expect((error as NativeArgumentError).code).toBe("XF_NATIVE_BAD_ARGUMENT");
      expect((error as NativeArgumentError).unrecoverable).toBe(true);
    }
  });
});

describe("hashPagesAsync", () => {
  it("resolves to the same digests as hashPages", async () => {
    const pages = randomBytes(100 * PAGE_SIZE);
    expect((await hashPagesAsync(pages)).equals(hashPages(pages))).toBe(true);
    expect((await hashPagesAsync(pages, [PAGE_SIZE, 0])).equals(hashPages(pages, [PAGE_SIZE, 0]))).toBe(true);
  });

  it("runs several batches concurrently", async () => {
    const batches = Array.from({ length: 4 }, () => randomBytes(64 * PAGE_SIZE));
    const results = await Promise.all(batches.map((b) => hashPagesAsync(b)));
    for (const [i, digests] of results.entries()) expect(digests.equals(hashPages(batches[i]!))).toBe(true);
  });

  it("rejects bad arguments with NativeArgumentError", async () => {
    await expect(hashPagesAsync(Buffer.alloc(10))).rejects.toThrow(NativeArgumentError);
  });
});

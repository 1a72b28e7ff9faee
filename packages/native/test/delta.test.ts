import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  DELTA_VERSION,
  DeltaFormatError,
  deltaDecode,
  deltaEncode,
  MAX_DELTA_LENGTH,
  NativeArgumentError,
  PAGE_SIZE,
} from "../lib/index.js";

/** A 16-bit little-endian op header: literal flag and run length 1..4096. */
const op = (literal: boolean, length: number) => {
  const header = (literal ? 0x8000 : 0) | (length - 1);
  return [header & 0xff, header >> 8];
};
const delta = (...bytes: number[]) => Buffer.from(bytes);

function roundTrip(page: Buffer, previous: Buffer): Buffer {
  const encoded = deltaEncode(page, previous);
  expect(encoded[0]).toBe(DELTA_VERSION);
  expect(encoded.length).toBeLessThanOrEqual(MAX_DELTA_LENGTH);
  expect(deltaDecode(encoded, previous).equals(page)).toBe(true);
  return encoded;
}

function expectMalformed(bytes: Buffer, previous: Buffer, message: RegExp, offset: number): void {
  let caught: unknown;
  try {
    deltaDecode(bytes, previous);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DeltaFormatError);
  const error = caught as DeltaFormatError;
  expect(error.code).toBe("XF_NATIVE_BAD_DELTA");
  expect(error.unrecoverable).toBe(true);
  expect(error.message).toMatch(message);
  expect(error.offset).toBe(offset);
}

describe("deltaEncode / deltaDecode", () => {
  const previous = randomBytes(PAGE_SIZE);

  it("encodes an identical page as one skip (3 bytes)", () => {
    const encoded = roundTrip(Buffer.from(previous), previous);
    expect(Array.from(encoded)).toEqual([DELTA_VERSION, ...op(false, PAGE_SIZE)]);
  });

  it("round-trips a random page within the size bound", () => {
    for (let i = 0; i < 20; i++) roundTrip(randomBytes(PAGE_SIZE), previous);
  });

  it("encodes a sparse change compactly", () => {
    const page = Buffer.from(previous);
    page[0] = page[0]! ^ 0xff;
    page[1000] = page[1000]! ^ 1;
    page[1001] = page[1001]! ^ 1;
    page[PAGE_SIZE - 1] = page[PAGE_SIZE - 1]! ^ 0x80;
    const encoded = roundTrip(page, previous);
    // literal(1) skip literal(2) skip literal(1): 1 + 5 ops * 2 + 4 bytes.
    expect(encoded.length).toBe(1 + 5 * 2 + 4);
  });

  it("round-trips random sparse edits of every density", () => {
    for (const changes of [1, 2, 8, 64, 512, 2048, 4096]) {
      const page = Buffer.from(previous);
      for (let i = 0; i < changes; i++) {
        const at = Math.floor(Math.random() * PAGE_SIZE);
        page[at] = page[at]! ^ (1 + Math.floor(Math.random() * 255));
      }
      roundTrip(page, previous);
    }
  });

  it("stays within the bound on patterns built to defeat run-length coding", () => {
    // Changed bytes separated by zero-XOR gaps of every length around the
    // skip threshold, from every starting phase.
    for (let gap = 1; gap <= 8; gap++) {
      for (let phase = 0; phase <= gap; phase++) {
        const page = Buffer.from(previous);
        for (let i = phase; i < PAGE_SIZE; i += gap + 1) page[i] = page[i]! ^ 0x55;
        roundTrip(page, previous);
      }
    }
  });

  it("round-trips zero pages in both directions", () => {
    const zero = Buffer.alloc(PAGE_SIZE);
    roundTrip(zero, previous);
    roundTrip(previous, zero);
    roundTrip(zero, zero);
  });

  it("refuses pages that are not exactly 4096 bytes", () => {
    expect(() => deltaEncode(Buffer.alloc(PAGE_SIZE - 1), previous)).toThrow(NativeArgumentError);
    expect(() => deltaEncode(previous, Buffer.alloc(PAGE_SIZE + 1))).toThrow(/previous must be exactly 4096 bytes/);
    expect(() => deltaDecode(delta(1, ...op(false, PAGE_SIZE)), Buffer.alloc(10))).toThrow(NativeArgumentError);
  });
});

describe("deltaDecode refuses hostile deltas", () => {
  const previous = randomBytes(PAGE_SIZE);
  const skipAll = op(false, PAGE_SIZE);

  it.each([
    ["an empty delta", delta(), /no version byte/, 0],
    ["an unknown version", delta(2, ...skipAll), /unsupported delta version 2/, 0],
    ["version 0", delta(0, ...skipAll), /unsupported delta version 0/, 0],
    ["no ops at all", delta(1), /expected an op header/, 1],
    ["a half op header", delta(1, 0xff), /expected an op header/, 1],
    ["reserved bits set", delta(1, 0xff, 0x1f), /reserved bits/, 1],
    [
      "a run past the page end",
      delta(1, ...op(false, 4000), ...op(false, 200)),
      /run of 200 bytes at page byte 4000 goes past the end/,
      3,
    ],
    ["runs that stop short of the page", delta(1, ...op(false, 4095)), /ends inside the page \(at page byte 4095/, 3],
    ["a truncated literal", delta(1, ...op(true, 10), 1, 2, 3), /literal of 10 bytes is truncated \(3 bytes left\)/, 3],
    [
      "a whole-page literal missing its last byte",
      Buffer.concat([delta(1, ...op(true, PAGE_SIZE)), Buffer.alloc(PAGE_SIZE - 1)]),
      /truncated/,
      3,
    ],
    ["bytes after the last run", delta(1, ...skipAll, 0), /1 unexpected bytes after the last run/, 3],
  ])("%s", (_name, bytes, message, offset) => {
    expectMalformed(bytes, previous, message, offset);
  });

  it("refuses a delta longer than the maximum before reading it", () => {
    // 4096 one-byte skips: well formed op by op, but no encoder writes it.
    const long = Buffer.concat([delta(1), Buffer.from(Array.from({ length: PAGE_SIZE }, () => op(false, 1)).flat())]);
    expectMalformed(long, previous, new RegExp(`more than the maximum ${MAX_DELTA_LENGTH}`), MAX_DELTA_LENGTH);
  });

  it("never crashes on mutated or truncated deltas: each decodes or throws DeltaFormatError", () => {
    const page = Buffer.from(previous);
    for (let i = 0; i < PAGE_SIZE; i += 97) page[i] = page[i]! ^ 0xa5;
    const valid = deltaEncode(page, previous);
    let refused = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const bytes = Buffer.from(
        valid.subarray(0, trial % 5 === 0 ? Math.floor(Math.random() * valid.length) : valid.length),
      );
      for (let m = 0; m < 3 && bytes.length > 0; m++)
        bytes[Math.floor(Math.random() * bytes.length)] = Math.floor(Math.random() * 256);
      try {
        expect(deltaDecode(bytes, previous).length).toBe(PAGE_SIZE);
      } catch (error) {
        expect(error).toBeInstanceOf(DeltaFormatError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
  });
});

describe("deltaDecode into a target", () => {
  const previous = randomBytes(PAGE_SIZE);
  const page = randomBytes(PAGE_SIZE);
  const encoded = deltaEncode(page, previous);

  it("writes the page into the target slot and returns it", () => {
    const output = Buffer.alloc(3 * PAGE_SIZE, 0xee);
    const slot = output.subarray(PAGE_SIZE, 2 * PAGE_SIZE);
    expect(deltaDecode(encoded, previous, slot)).toBe(slot);
    expect(slot.equals(page)).toBe(true);
    expect(output.subarray(0, PAGE_SIZE).every((b) => b === 0xee)).toBe(true);
    expect(output.subarray(2 * PAGE_SIZE).every((b) => b === 0xee)).toBe(true);
  });

  it("decodes in place over the previous version", () => {
    const target = Buffer.from(previous);
    deltaDecode(encoded, target, target);
    expect(target.equals(page)).toBe(true);
  });

  it("leaves the target untouched when the delta is malformed", () => {
    const target = Buffer.alloc(PAGE_SIZE, 0x11);
    const truncated = encoded.subarray(0, encoded.length - 1);
    expect(() => deltaDecode(truncated, previous, target)).toThrow(DeltaFormatError);
    expect(target.every((b) => b === 0x11)).toBe(true);
  });

  it("refuses a target that is not one page", () => {
    expect(() => deltaDecode(encoded, previous, Buffer.alloc(PAGE_SIZE - 1))).toThrow(
      /target must be exactly 4096 bytes/,
    );
  });
});

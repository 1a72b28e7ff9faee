import { InvalidRangeError } from "./errors.js";
import type { ByteRange } from "./object-store.js";

/** Checks a range's numbers are non-negative safe integers (every backend calls this first). */
export function validateRange(key: string, range: ByteRange | undefined): ByteRange | undefined {
  if (range === undefined) return undefined;
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new InvalidRangeError(key, `offset ${offset} is not a non-negative integer`);
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
    throw new InvalidRangeError(key, `length ${length} is not a non-negative integer`);
  }
  return range;
}

/** The [start, end) byte positions a range covers in an object of `size` bytes (the short-read rule). */
export function clampRange(range: ByteRange | undefined, size: number): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: size };
  const start = Math.min(range.offset, size);
  const end = range.length === undefined ? size : Math.min(size, range.offset + range.length);
  return { start, end: Math.max(start, end) };
}

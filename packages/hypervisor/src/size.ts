import { InvalidSizeError } from "./errors.js";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 2 ** 10,
  kb: 2 ** 10,
  kib: 2 ** 10,
  m: 2 ** 20,
  mb: 2 ** 20,
  mib: 2 ** 20,
  g: 2 ** 30,
  gb: 2 ** 30,
  gib: 2 ** 30,
  t: 2 ** 40,
  tb: 2 ** 40,
  tib: 2 ** 40,
};

/**
 * Parses a byte size such as "16M", "256MiB", "1G" or "4096". Units are
 * binary whatever the spelling, as in xl's `memory=`: memory sizes are.
 */
export function parseSize(input: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new InvalidSizeError(input);
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes)) throw new InvalidSizeError(input);
  return bytes;
}

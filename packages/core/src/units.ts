/**
 * Sizes and durations as people write them, and as every command prints
 * them: "64M", "1.5 GiB", "30s", "7d". One parser and one printer of each,
 * so a value a command prints is one it accepts.
 */
import { InvalidDurationError, InvalidSizeError } from "./errors.js";

const SIZE_UNITS: Record<string, number> = {
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
 * Parses a byte size such as "16M", "256MiB", "1.5 GiB" or "4096". Units are
 * binary whatever the spelling, as in xl's `memory=`: memory sizes are.
 */
export function parseSize(input: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new InvalidSizeError(input);
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes)) throw new InvalidSizeError(input);
  return bytes;
}

/** "512 B", "64.0 MiB", "1.5 GiB": a size for people (binary units, one decimal). */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/**
 * Parses a duration such as "500ms", "30s", "15m", "1h", "7d" or "1h30m" into
 * milliseconds. A bare number is refused: "30" could mean seconds or
 * milliseconds, and guessing wrong is a thousandfold error.
 */
export function parseDuration(input: string): number {
  const text = input.trim().toLowerCase();
  if (text === "" || text.length > 40) throw new InvalidDurationError(input);
  let total = 0;
  let rest = text;
  while (rest !== "") {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)\s*/.exec(rest);
    if (!m) throw new InvalidDurationError(input);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) throw new InvalidDurationError(input);
  return ms;
}

/** "250ms", "45s", "15m", "1h30m", "7d": a duration for people, exact where it can be. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms % 1000 !== 0 || ms < 60_000) return `${Number((ms / 1000).toFixed(ms < 10_000 ? 2 : 1))}s`;
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join("");
}

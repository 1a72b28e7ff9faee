/**
 * Parsers of option and argument values, for commander: each returns the
 * value or throws InvalidArgumentError, which commander turns into "error:
 * option '--grace <duration>' argument '1x' is invalid. not a duration ..."
 * and exit code 2. Sizes and durations are read (and, as defaults in help,
 * shown) the way people write them: 64M, 1.5 GiB, 30s, 15m, 1h, 7d.
 */
import { statSync } from "node:fs";
import { isIP } from "node:net";
import { parseDuration, parseSize } from "@xenfleet/core";
import { checkCron } from "@xenfleet/fleet";
import { parseCheckSubset } from "@xenfleet/image";
import { assertHostId, prefixSchema, redisUrlSchema, schemas } from "@xenfleet/jobs";
import { parseStoreUrl } from "@xenfleet/store";
import { InvalidArgumentError, Option } from "commander";
import type { z } from "zod";

/** Runs `parse`, turning what it throws into InvalidArgumentError with the same message. */
function checked<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err;
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** A zod schema as a parser: the first issue's message. */
function schema<S extends z.ZodType>(s: S): (text: string) => z.infer<S> {
  return (text) => {
    const parsed = s.safeParse(text);
    if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? "invalid");
    return parsed.data;
  };
}

/** 0, 1, 2, ... */
export function count(text: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`not a count: ${text}`);
  return n;
}

/** 1, 2, ... */
export function positive(text: string): number {
  const n = count(text);
  if (n < 1) throw new InvalidArgumentError("must be at least 1");
  return n;
}

/** "64M", "1.5 GiB", "4096": bytes. */
export const size = checked(parseSize);

/** "30s", "15m", "1h", "7d", or 0: milliseconds. A bare number other than 0 is refused (seconds or ms?). */
export const duration = checked((text: string) => (text.trim() === "0" ? 0 : parseDuration(text)));

/** "a,b,c": the non-empty items. */
export function list(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Comma-separated labels, each as job payloads allow (a-z 0-9 . _ -, up to 32). */
export const labels = checked((text: string) => list(text).map(schema(schemas.label)));

/** One label. */
export const label = checked((text: string) => schema(schemas.label)(text.trim()));

/** Comma-separated host ids. */
export const hostIds = checked((text: string) => list(text).map(assertHostId));

export const hostId = checked(assertHostId);

/** A domain name as `xl list` shows it (printable ASCII, at most 128 characters). */
export const domainName = checked((text: string) => schema(schemas.domainName)(text));

/** A cron pattern, checked as the scheduler will read it. */
export const cron = checked((text: string) => {
  checkCron(text);
  return text;
});

/** A point in time: an ISO 8601 date (2025-03-04, 2025-03-04T02:00Z), or a duration meaning that long ago. */
export const since = checked((text: string): Date => {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const date = new Date(text);
    if (Number.isNaN(date.getTime())) throw new InvalidArgumentError(`not a date: ${text}`);
    return date;
  }
  try {
    return new Date(Date.now() - parseDuration(text));
  } catch {
    throw new InvalidArgumentError(
      `not a date or a duration: ${text} (examples: 2025-03-04, 2025-03-04T02:00Z, 36h, 7d)`,
    );
  }
});

export const redisUrl = schema(redisUrlSchema);
export const prefix = schema(prefixSchema);

/** A store URL or path, checked (scheme, bucket, credentials in the environment) but left as given. */
export const storeLocation = checked((text: string) => {
  if (text !== "") parseStoreUrl(text, process.env);
  return text;
});

/** A file to read: "-" (standard input) or a path that exists and is not a directory. */
export const inputFile = checked((text: string) => {
  if (text === "-") return text;
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(text);
  } catch {
    throw new InvalidArgumentError(`no such file: ${text}`);
  }
  if (info.isDirectory()) throw new InvalidArgumentError(`${text} is a directory`);
  return text;
});

/** A size option whose default help shows as written ("64M"), not as a byte count. */
export function sizeOption(flags: string, description: string, fallback?: string): Option {
  const option = new Option(flags, description).argParser(size);
  return fallback === undefined ? option : option.default(size(fallback), fallback);
}

/** A labels option whose default help shows as written ("nightly"). */
export function labelsOption(flags: string, description: string, fallback?: string): Option {
  const option = new Option(flags, description).argParser(labels);
  return fallback === undefined ? option : option.default(labels(fallback), fallback);
}

/** A duration option whose default help shows as written ("1h"), not in milliseconds. */
export function durationOption(flags: string, description: string, fallback?: string): Option {
  const option = new Option(flags, description).argParser(duration);
  return fallback === undefined ? option : option.default(duration(fallback), fallback);
}

/** A slice of a store's packs for `check --read-data-subset`: n/m or a percentage. */
export const checkSubset = checked(parseCheckSubset);

/** A TCP port, 0 to 65535. */
export function port(text: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || n > 65_535) throw new InvalidArgumentError(`not a port (0-65535): ${text}`);
  return n;
}

/** An IP address to listen on (127.0.0.1, ::1, 0.0.0.0...). */
export function bindAddress(text: string): string {
  if (isIP(text) === 0) throw new InvalidArgumentError(`not an IP address: ${text}`);
  return text;
}

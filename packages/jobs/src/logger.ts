/** The pino logger every service uses. */
import { pino, stdSerializers, type DestinationStream, type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";

/**
 * Fields that may hold secrets, wherever they appear in a logged object (up
 * to SCRUB_DEPTH levels). Scrubbing is a safety net: code should not log
 * secrets in the first place (use `describeRedis` for connection strings).
 */
const SECRET_FIELDS = ["password", "token", "authorization", "secretAccessKey", "sessionToken", "redisUrl"];
const SECRETS = new Set(SECRET_FIELDS.map((f) => f.toLowerCase()));
const CENSOR = "[redacted]";
const SCRUB_DEPTH = 6;

/** The top-level paths pino itself redacts (kept for callers that list them). */
export const REDACT_PATHS = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)];

/**
 * A copy of a value about to be logged, with secret fields censored at any
 * depth, and the arguments of failed Redis commands dropped: ioredis errors
 * carry the command, and for a refused AUTH (or HELLO ... AUTH) its
 * arguments are the password.
 *
 * Done here rather than with pino's wildcard redaction: its two-level
 * wildcards (`*.*.password`) throw a TypeError when a logged object holds a
 * Buffer, so a log call could crash its caller. Binary data, dates and other
 * values with their own JSON form are left as they are.
 */
export function scrub(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object" || depth > SCRUB_DEPTH) return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Map || value instanceof Set)
    return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRETS.has(key.toLowerCase())) out[key] = CENSOR;
    else if (key === "command" && v !== null && typeof v === "object" && "args" in v)
      out[key] = { ...(scrub(v, depth + 1) as object), args: CENSOR };
    else out[key] = scrub(v, depth + 1);
  }
  return out;
}

export interface LoggerOptions {
  /** The service name, on every line. */
  service: string;
  level?: LevelWithSilent;
  /** Defaults to stdout; tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.service,
      level: options.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      formatters: {
        // Errors under `err` are left whole for the err serializer, which scrubs what it makes of them.
        log: (object) => {
          const { err, ...rest } = object;
          const scrubbed = scrub(rest) as Record<string, unknown>;
          return err === undefined ? scrubbed : { ...scrubbed, err };
        },
      },
      serializers: { err: (err: unknown) => scrub(err instanceof Error ? { ...stdSerializers.err(err) } : err) },
      base: { service: options.service, pid: process.pid },
    },
    options.destination,
  );
}

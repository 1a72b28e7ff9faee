/** The pino logger every service uses. */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";

/**
 * Fields that may hold secrets, wherever they appear up to two levels deep.
 * Redaction is a safety net: code should not log secrets in the first place
 * (use `describeRedis` for connection strings).
 */
const SECRET_FIELDS = ["password", "token", "authorization", "secretAccessKey", "sessionToken", "redisUrl"];
export const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

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
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      base: { service: options.service, pid: process.pid },
    },
    options.destination,
  );
}

/**
 * How every command reports, one convention for all:
 *
 * - With --json, exactly one JSON document on stdout, an object with `ok`
 *   (true exactly when the exit code is 0) and, when not ok,
 *   `error: {code, message, ...details}`. A list is an array under a named
 *   field (`{"ok": true, "images": [...]}`), never one document per line.
 *   Timestamps are ISO 8601 strings, sizes bytes, durations seconds.
 * - Without it, the result for people on stdout (tables with a header row),
 *   errors as one line on stderr: `xenfleet: <message> [<code>]`.
 * - Progress and logs go to stderr, whatever the mode.
 * - A reader that goes away (`| head`) ends the command quietly.
 */
import { CommanderError } from "commander";
import { codeOf, exitCodeOf, type FailedReport } from "./errors.js";

/** Whether the command line asks for JSON: --json before any "--". */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
}

export function printJson(doc: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(doc)}\n`);
}

/** A command's result: `{ok: true, ...doc}` with --json, else the text for people. */
export function emit(json: boolean | undefined, doc: Record<string, unknown>, text: () => string): void {
  if (json) printJson({ ok: true, ...doc });
  else {
    const out = text();
    if (out !== "") process.stdout.write(out.endsWith("\n") ? out : `${out}\n`);
  }
}

/** Fields of an error worth a script's attention, besides code and message. */
const DETAIL_FIELDS = [
  "reason",
  "offset",
  "layer",
  "part",
  "recordType",
  "recordName",
  "expected",
  "actual",
  "key",
  "imageId",
  "host",
  "hosts",
  "kind",
  "subject",
  "path",
  "expression",
] as const;

/** The `error` member of a JSON document. */
export function errorDoc(error: unknown): Record<string, unknown> {
  if (error instanceof CommanderError) return { code: "XF_CLI_USAGE", message: error.message.replace(/^error: /, "") };
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code === undefined) return { code: "XF_CLI_INTERNAL", message };
  const details: Record<string, unknown> = {};
  for (const field of DETAIL_FIELDS) {
    const value = (error as Record<string, unknown>)[field];
    if (value !== undefined && value !== null && typeof value !== "function" && typeof value !== "object")
      details[field] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === "string")) details[field] = value;
  }
  return { code, message, ...details };
}

/**
 * Reports a failure the way the command line promised and returns its exit
 * code. Commander has printed its own usage errors already. An error nobody
 * raised on purpose is a bug: one line, and the stack only when asked.
 */
export function reportError(error: unknown, json: boolean, env: NodeJS.ProcessEnv = process.env): number {
  const exitCode = exitCodeOf(error);
  if (error instanceof CommanderError && exitCode === 0) return exitCode;
  const doc = errorDoc(error);
  const failed = (error as { failed?: FailedReport } | null)?.failed;
  if (json) {
    printJson({ ok: false, ...(failed?.report ?? {}), error: doc });
    return exitCode;
  }
  if (failed !== undefined && failed.text !== "") process.stdout.write(`${failed.text.replace(/\n$/, "")}\n`);
  if (error instanceof CommanderError) return exitCode;
  if (doc.code === "XF_CLI_INTERNAL") {
    const debug = env.XENFLEET_DEBUG === "1" && error instanceof Error && error.stack !== undefined;
    process.stderr.write(
      debug
        ? `xenfleet: internal error: ${error.stack}\n`
        : `xenfleet: internal error: ${String(doc.message)}\n  (set XENFLEET_DEBUG=1 for the stack trace, and please report it)\n`,
    );
  } else process.stderr.write(`xenfleet: ${String(doc.message)} [${String(doc.code)}]\n`);
  return exitCode;
}

/**
 * A reader that closed its end (`xenfleet image ls | head`) ends the
 * command quietly with the exit code so far; any other failure to write
 * the output is one line and exit code 1.
 */
export function quietOnClosedPipes(): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") process.stderr.write(`xenfleet: cannot write the output: ${err.message}\n`);
    process.exit(err.code === "EPIPE" ? Number(process.exitCode ?? 0) : 1);
  });
  process.stderr.on("error", () => process.exit(Number(process.exitCode ?? 0)));
}

export interface Column {
  readonly header: string;
  /** Numbers and sizes align right. */
  readonly right?: boolean;
}

/** Rows under a header row, columns padded to their widest cell; the last column is not padded. */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? "";
        if (i === columns.length - 1 && !c.right) return cell;
        return c.right ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join("\n");
}

/** Seconds from milliseconds, to the millisecond: how JSON documents give durations. */
export function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/** An ISO 8601 timestamp from epoch milliseconds, or null. */
export function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

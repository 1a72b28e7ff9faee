/**
 * Files a command writes (an exported image, a converted stream, a sample):
 * written whole or not at all. The bytes go to a temporary name in the same
 * directory, renamed to the one asked for once everything was written (and,
 * for an export, verified); on any failure the temporary file is removed. A
 * path that cannot be written is CannotWriteError (exit code 2). A path that
 * exists and is not a regular file (/dev/null, a FIFO, a terminal) is written
 * in place: renaming over it would replace the device or pipe with a file.
 */
import { randomBytes } from "node:crypto";
import { open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { CannotWriteError } from "./errors.js";

const REASONS: Record<string, string> = {
  ENOENT: "no such directory",
  ENOTDIR: "a parent is not a directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "it is a directory",
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
};

function cannotWrite(path: string, err: unknown): CannotWriteError {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  return new CannotWriteError(path, REASONS[code] ?? (err as Error).message);
}

/**
 * Runs `write` with a sink for `path` ("-": standard output, written as it
 * comes). The sink is ended afterwards if `write` did not end it.
 */
export async function writeOutput<T>(path: string, write: (sink: Writable) => Promise<T>): Promise<T> {
  if (path === "-") return write(process.stdout);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new CannotWriteError(path, "it is a directory");
  if (existing !== undefined && !existing.isFile()) return writeThrough(path, path, "w", write);
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.partial`);
  const result = await writeThrough(path, temp, "wx", write);
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw cannotWrite(path, err);
  }
  return result;
}

/** Writes `file` (which stands for `path`), removing it on failure unless it is `path` itself. */
async function writeThrough<T>(
  path: string,
  file: string,
  flags: "w" | "wx",
  write: (sink: Writable) => Promise<T>,
): Promise<T> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, flags, 0o644);
  } catch (err) {
    throw cannotWrite(path, err);
  }
  const sink = handle.createWriteStream();
  let sinkError: unknown;
  sink.on("error", (err) => (sinkError ??= err));
  try {
    const result = await write(sink);
    if (!sink.writableEnded) sink.end();
    await finished(sink);
    return result;
  } catch (err) {
    sink.destroy();
    if (file !== path) await rm(file, { force: true });
    // A failed write (an errno error) is the path's fault; anything else (a corrupt image) is not.
    const cause = sinkError ?? err;
    throw (cause as NodeJS.ErrnoException).syscall !== undefined ? cannotWrite(path, cause) : err;
  }
}

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";

export const MiB = 2 ** 20;

const made: string[] = [];

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `xenfleet-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Removes every directory tempDir made (call from afterAll). */
export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** A sink that accepts `bytesPerSec`, like a network link. */
export function throttledSink(bytesPerSec: number): Writable & { received: number } {
  const sink = new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _enc, cb) {
      sink.received += chunk.length;
      setTimeout(cb, (chunk.length / bytesPerSec) * 1000);
    },
  }) as Writable & { received: number };
  sink.received = 0;
  return sink;
}

/** Entries of a host's incoming/ directory: half-built domains. */
export async function incoming(hostDir: string): Promise<string[]> {
  return readdir(join(hostDir, "incoming"));
}

export const VERIFY_STREAM = "/usr/lib/xen-4.17/bin/verify-stream-v2";
export const VERIFY_PYTHONPATH = "/usr/lib/xen-4.17/lib/python";
export const verifierPresent = existsSync(VERIFY_STREAM);

/** Runs Xen's verify-stream-v2 on an xl file; resolves to its output, rejects on failure. */
export async function verifyStream(file: string): Promise<string> {
  const { stdout } = await promisify(execFile)("python3", [VERIFY_STREAM, "-f", "xl", "-v", "-i", file], {
    env: { ...process.env, PYTHONPATH: VERIFY_PYTHONPATH },
    maxBuffer: 64 * MiB,
  });
  return stdout;
}

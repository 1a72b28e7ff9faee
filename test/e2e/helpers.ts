/**
 * End-to-end plumbing: a real Redis (a fresh key prefix per suite, deleted
 * afterwards), sim hosts in a temporary directory, and the fleet's services
 * as separate OS processes. Services run from their builds (`npm test` builds
 * first); XENFLEET_E2E_FROM_SOURCE=1 runs them from their TypeScript sources.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Queue } from "bullmq";
import { poll } from "@xenfleet/core";
import { bullPrefix, createRedis, type RedisClient } from "@xenfleet/jobs";
import { deletePrefix, testPrefix as newTestPrefix, REDIS_URL } from "@xenfleet/jobs/testing";

export { deletePrefix, REDIS_URL };

export const ROOT = join(import.meta.dirname, "..", "..");
const FROM_SOURCE = process.env.XENFLEET_E2E_FROM_SOURCE === "1";

export function testPrefix(): string {
  return newTestPrefix("xfe2e");
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "xenfleet-e2e-"));
}

export function fileUrl(path: string): string {
  return pathToFileURL(path).href;
}

export function redis(): RedisClient {
  return createRedis(REDIS_URL, "producer", "xenfleet-e2e");
}

export function queue(connection: RedisClient, prefix: string, name: string): Queue {
  return new Queue(name, { connection, prefix: bullPrefix(prefix) });
}

/** Poll `check` until it returns something other than undefined. */
export function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  return poll(what, check, { timeoutMs, intervalMs: 100 });
}

/** The command line of a service or of the CLI. */
export type Entry = "save-worker" | "restore-worker" | "compress-worker" | "migrate-worker" | "controller" | "cli";

export function nodeArgs(entry: Entry): string[] {
  const dir = entry === "cli" ? join(ROOT, "packages", "cli") : join(ROOT, "services", entry);
  return FROM_SOURCE
    ? ["--conditions=source", "--import", "tsx", join(dir, "src", "main.ts")]
    : [join(dir, "dist", "main.js")];
}

export interface Proc {
  name: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  log: string;
  output(): string;
}

/** Start a process with its output in a log file (read it with `output()` when a test fails). */
export function start(name: string, args: string[], env: Record<string, string>, logDir: string): Proc {
  const log = join(logDir, `${name}.log`);
  const fd = openSync(log, "a");
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", fd, fd],
    cwd: ROOT,
  });
  closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { name, child, exited, log, output: () => readFileSync(log, "utf8") };
}

/** SIGTERM (graceful), then SIGKILL if it is still there after `graceMs`. */
export async function stop(
  proc: Proc,
  graceMs = 30_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited;
  proc.child.kill("SIGTERM");
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), graceMs);
  try {
    return await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Run the CLI to completion. */
export function cli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs("cli"), ...args], {
      env: { ...process.env, ...env },
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += String(d)));
    child.stderr.on("data", (d: Buffer) => (stderr += String(d)));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`xenfleet ${args.join(" ")} timed out\n${stderr}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Shared test plumbing: a unique prefix per test, real Redis, cleanup, bounded polling. */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { Queue, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import {
  bullPrefix,
  createLogger,
  createRedis,
  jobData,
  keys,
  type ConnectionRole,
  type JobPayload,
  type Logger,
} from "../src/index.js";

export const REDIS_URL = process.env.XENFLEET_TEST_REDIS ?? "redis://127.0.0.1:6379";

export function testPrefix(): string {
  return `xftest-${randomBytes(5).toString("hex")}`;
}

export function redis(role: ConnectionRole = "worker"): Redis {
  return createRedis(REDIS_URL, role, "xenfleet-jobs-test");
}

/** Delete every key under the prefix; throws if any survive (something still writing). */
export async function deletePrefix(client: Redis, prefix: string): Promise<void> {
  for (let pass = 0; pass < 2; pass++) {
    let cursor = "0";
    do {
      const [next, found] = await client.scan(cursor, "MATCH", keys.all(prefix), "COUNT", 500);
      cursor = next;
      if (found.length > 0) await client.del(...found);
    } while (cursor !== "0");
  }
  const [, left] = await client.scan("0", "MATCH", keys.all(prefix), "COUNT", 10_000);
  if (left.length > 0) throw new Error(`keys left under ${prefix}: ${left.slice(0, 5).join(", ")}`);
}

/** Poll `check` until it returns a value other than undefined; fail after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A logger whose lines tests can read. */
export function captureLogger(): { logger: Logger; lines: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ service: "test", level: "debug", destination }), lines: () => chunks.join("") };
}

export const silentLogger = createLogger({ service: "test", level: "silent" });

export function queue(name: string, prefix: string, connection: Redis): Queue {
  return new Queue(name, { connection, prefix: bullPrefix(prefix) });
}

export const UUID_A = "5f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b";
export const UUID_B = "6a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809";
export const UUID_C = "00000000-0000-0000-0000-0000000000c0";
export const IMAGE = "a".repeat(64);

export function savePayload(host: string, overrides: Partial<JobPayload<"save">> = {}): JobPayload<"save"> {
  return jobData("save", {
    host,
    domain: { uuid: UUID_A, name: "web-1" },
    store: "s3://images/fleet",
    mode: "checkpoint",
    labels: ["nightly"],
    compress: true,
    ...overrides,
  });
}

export const saveResult = { imageId: IMAGE, bytesTotal: 1000, bytesNew: 50, pausedMs: 3, seconds: 0.5 };

/** Job options for tests: retries without the production backoff wait. */
export const FAST_RETRY: JobsOptions = { attempts: 3, backoff: { type: "fixed", delay: 20 } };

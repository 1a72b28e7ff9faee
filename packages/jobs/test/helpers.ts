/** Shared test plumbing: a unique prefix per test, real Redis, cleanup, bounded polling. */
import { Writable } from "node:stream";
import { poll } from "@xenfleet/core";
import { Queue, type JobsOptions } from "bullmq";
import {
  bullPrefix,
  createLogger,
  createRedis,
  jobData,
  type ConnectionRole,
  type JobPayload,
  type Logger,
  type RedisClient,
} from "../src/index.js";
import { deletePrefix as deleteTestPrefix, REDIS_URL } from "../src/testing/index.js";

export { REDIS_URL, testPrefix } from "../src/testing/index.js";

export function redis(role: ConnectionRole = "worker"): RedisClient {
  return createRedis(REDIS_URL, role, "xenfleet-jobs-test");
}

/** Delete every key under the prefix; throws if any survive (something still writing). */
export function deletePrefix(client: RedisClient, prefix: string): Promise<void> {
  return deleteTestPrefix(client, prefix, { strict: true });
}

/** Poll `check` until it returns a value other than undefined; fail after `timeoutMs`. */
export function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  return poll(what, check, { timeoutMs, intervalMs: 50 });
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

export function queue(name: string, prefix: string, connection: RedisClient): Queue {
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
    store: "main",
    mode: "checkpoint",
    labels: ["nightly"],
    compress: true,
    ...overrides,
  });
}

export const saveResult = { imageId: IMAGE, bytesTotal: 1000, bytesNew: 50, pausedMs: 3, seconds: 0.5 };

/** Job options for tests: retries without the production backoff wait. */
export const FAST_RETRY: JobsOptions = { attempts: 3, backoff: { type: "fixed", delay: 20 } };

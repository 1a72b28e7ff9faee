/**
 * Plumbing for tests that run against a real Redis (the machine's shared
 * one by default, XENFLEET_TEST_REDIS to point elsewhere): a key prefix of
 * their own, and removal of every key under it afterwards, so tests never
 * see or disturb anything else that uses the same Redis.
 */
import { randomBytes } from "node:crypto";
import { type ConnectionRole, createRedis, type RedisClient } from "../connection.js";
import { keys } from "../names.js";
import { scanKeys } from "../scan.js";

export const REDIS_URL = process.env.XENFLEET_TEST_REDIS ?? "redis://127.0.0.1:6379";

/** A fresh prefix ("xftest-1a2b3c4d5e"); `kind` tells suites apart when keys are left over. */
export function testPrefix(kind = "xftest"): string {
  return `${kind}-${randomBytes(5).toString("hex")}`;
}

/** Deletes every key under the prefix; with `strict`, throws if any survive (something still writing). */
export async function deletePrefix(
  client: RedisClient,
  prefix: string,
  options: { strict?: boolean } = {},
): Promise<void> {
  for (let pass = 0; pass < 2; pass++) {
    for await (const found of scanKeys(client, keys.all(prefix))) await client.del(...found);
  }
  if (!options.strict) return;
  for await (const left of scanKeys(client, keys.all(prefix), 10_000))
    throw new Error(`keys left under ${prefix}: ${left.slice(0, 5).join(", ")}`);
}

export interface TestRedis {
  redis: RedisClient;
  prefix: string;
  /** Deletes the prefix's keys and closes the client. */
  cleanup(): Promise<void>;
}

/** A client and a prefix of the test's own. */
export function testRedis(role: ConnectionRole = "producer", kind?: string): TestRedis {
  const prefix = testPrefix(kind);
  const redis = createRedis(REDIS_URL, role, `${prefix}-test`);
  return {
    redis,
    prefix,
    cleanup: async () => {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { keys } from "@xenfleet/jobs";

export const REDIS_URL = process.env.XENFLEET_TEST_REDIS ?? "redis://127.0.0.1:6379";

/** A unique prefix per test and a client; `cleanup` deletes every key under the prefix. */
export function testRedis(): { redis: Redis; prefix: string; cleanup: () => Promise<void> } {
  const prefix = `xftest-${randomBytes(5).toString("hex")}`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: false });
  return {
    redis,
    prefix,
    cleanup: async () => {
      let cursor = "0";
      do {
        const [next, found] = await redis.scan(cursor, "MATCH", keys.all(prefix), "COUNT", 1000);
        cursor = next;
        if (found.length > 0) await redis.del(...found);
      } while (cursor !== "0");
      redis.disconnect();
    },
  };
}

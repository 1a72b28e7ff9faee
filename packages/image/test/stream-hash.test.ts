import { createHash, randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { StreamHasher } from "../src/stream-hash.js";
import { cleanupAll } from "./helpers.js";

afterAll(cleanupAll);

const MiB = 1024 * 1024;

describe("StreamHasher, one after another", () => {
  const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

  /** Hands `bytes` over in chunks of `chunkBytes` and returns the digest. */
  async function hashWhole(bytes: Uint8Array, chunkBytes = bytes.length || 1): Promise<string> {
    const hasher = new StreamHasher();
    try {
      for (let at = 0; at < bytes.length; at += chunkBytes) await hasher.update(bytes.subarray(at, at + chunkBytes));
      return await hasher.digest();
    } finally {
      await hasher.close();
    }
  }

  it("hashes each stream on its own when hashers follow one another", async () => {
    const streams = [randomBytes(9 * MiB + 5), randomBytes(3 * MiB), Buffer.alloc(0), randomBytes(17 * MiB + 1)];
    for (const bytes of streams) expect(await hashWhole(bytes)).toBe(sha256(bytes));
  });

  it("is not disturbed by a hasher closed before its digest", async () => {
    const abandoned = new StreamHasher();
    await abandoned.update(randomBytes(20 * MiB));
    await abandoned.close();
    const bytes = randomBytes(5 * MiB);
    expect(await hashWhole(bytes)).toBe(sha256(bytes));
  });

  it("runs hashers side by side", async () => {
    const streams = [randomBytes(12 * MiB), randomBytes(7 * MiB), randomBytes(30 * MiB)];
    const digests = await Promise.all(streams.map((bytes) => hashWhole(bytes, 3 * MiB)));
    expect(digests).toEqual(streams.map(sha256));
  });
});

import { createHash, randomBytes } from "node:crypto";
import { open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { StreamHasher } from "../src/stream-hash.js";
import { cleanupAll, tempDir } from "./helpers.js";

afterAll(cleanupAll);

const MiB = 1024 * 1024;

async function readAll(bytes: Buffer, releaseAsYouGo: boolean): Promise<{ read: Buffer; digest: string }> {
  const file = join(await tempDir(), "stream");
  await writeFile(file, bytes);
  const hasher = new StreamHasher();
  const handle = await open(file, "r");
  try {
    const views: Uint8Array[] = [];
    let offset = 0;
    for await (const chunk of hasher.readFile(handle)) {
      offset += chunk.length;
      if (releaseAsYouGo) {
        views.push(Uint8Array.prototype.slice.call(chunk));
        hasher.release(offset);
      } else {
        views.push(chunk); // held: its slot must not be read into again until released
      }
    }
    const read = Buffer.concat(views);
    return { read, digest: await hasher.digest() };
  } finally {
    await handle.close();
    await hasher.close();
  }
}

describe("StreamHasher.readFile", () => {
  it("yields a file's bytes in order and hashes them, releasing as it goes", async () => {
    const bytes = randomBytes(27 * MiB + 123);
    const { read, digest } = await readAll(bytes, true);
    expect(read.equals(bytes)).toBe(true);
    expect(digest).toBe(createHash("sha256").update(bytes).digest("hex"));
  });

  it("never reads ahead into a slot the caller still holds", async () => {
    const bytes = randomBytes(35 * MiB);
    const { read, digest } = await readAll(bytes, false);
    expect(read.equals(bytes)).toBe(true);
    expect(digest).toBe(createHash("sha256").update(bytes).digest("hex"));
  });

  it("reads an empty file as nothing", async () => {
    const { read, digest } = await readAll(Buffer.alloc(0), true);
    expect(read.length).toBe(0);
    expect(digest).toBe(createHash("sha256").digest("hex"));
  });
});

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

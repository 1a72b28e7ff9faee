import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidKeyError, InvalidRangeError, ObjectNotFoundError, RefConflictError } from "../errors.js";
import { MAX_KEY_LENGTH, MAX_SEGMENT_LENGTH } from "../key.js";
import type { ObjectStore } from "../object-store.js";

export interface ConformanceOptions {
  /** Keys in the pagination test; above 1000 so S3 listings need a continuation. Default 1100. */
  readonly listCount?: number;
  /** Size of the large-object test; above the backend's multipart part size. Default 12 MiB. */
  readonly largeObjectBytes?: number;
}

export interface StoreUnderTest {
  readonly store: ObjectStore;
  readonly cleanup: () => Promise<void>;
}

/** Keys every backend must refuse, with why. */
export const INVALID_KEYS: ReadonlyArray<readonly [string, string]> = [
  ["", "empty"],
  ["/abs", "leading slash"],
  ["a/", "trailing slash"],
  ["a//b", "empty segment"],
  ["..", "dot-dot"],
  ["../escape", "dot-dot escape"],
  ["a/../../b", "dot-dot inside"],
  ["./a", "dot segment"],
  [".hidden", "leading dot"],
  ["a/.tmp/x", "leading dot in a segment"],
  ["a b", "space"],
  ["a\\b", "backslash"],
  ["a\0b", "NUL"],
  ["caf\u00e9", "non-ASCII"],
  [`${"x/".repeat(MAX_KEY_LENGTH / 2)}x`, "too long"],
  [`a/${"x".repeat(MAX_SEGMENT_LENGTH + 1)}`, "segment too long"],
];

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Runs `fn` over `items` with at most `width` in flight. */
async function inBatches<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

/**
 * The ObjectStore contract as tests. Every backend's test file calls this
 * once with a factory; each test gets a fresh, empty store.
 */
export function describeObjectStoreConformance(
  name: string,
  makeStore: () => Promise<StoreUnderTest>,
  options: ConformanceOptions = {},
): void {
  const listCount = options.listCount ?? 1100;
  const largeBytes = options.largeObjectBytes ?? 12 * 1024 * 1024;

  describe(`ObjectStore conformance: ${name}`, () => {
    let store: ObjectStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    describe("put and get", () => {
      it("round-trips bytes and reports created", async () => {
        const data = randomBytes(1000);
        expect(await store.put("data/ab/abcdef", data)).toEqual({ created: true });
        expect((await store.get("data/ab/abcdef")).equals(data)).toBe(true);
        const info = await store.head("data/ab/abcdef");
        expect(info?.size).toBe(1000);
        expect(info?.mtime).toBeInstanceOf(Date);
      });

      it("skips a put of an existing key: created is false and the first bytes stay", async () => {
        const first = Buffer.from("first version");
        await store.put("k/one", first);
        expect(await store.put("k/one", Buffer.from("something else entirely"))).toEqual({ created: false });
        expect((await store.get("k/one")).equals(first)).toBe(true);
      });

      it("does not read an iterable source when the key exists", async () => {
        await store.put("k/one", Buffer.from("x"));
        let pulled = false;
        async function* source() {
          pulled = true;
          yield Buffer.from("y");
        }
        expect(await store.put("k/one", source())).toEqual({ created: false });
        expect(pulled).toBe(false);
      });

      it("stores an empty object", async () => {
        expect(await store.put("k/empty", new Uint8Array(0))).toEqual({ created: true });
        expect((await store.get("k/empty")).length).toBe(0);
        expect((await store.head("k/empty"))?.size).toBe(0);
      });

      it("stores from an async iterable and from a Node stream", async () => {
        const parts = [randomBytes(100), randomBytes(1), randomBytes(5000)];
        async function* chunks() {
          yield* parts;
        }
        await store.put("k/iter", chunks());
        await store.put("k/stream", Readable.from(parts));
        const whole = Buffer.concat(parts);
        expect((await store.get("k/iter")).equals(whole)).toBe(true);
        expect((await store.get("k/stream")).equals(whole)).toBe(true);
      });

      it("get of a missing key is ObjectNotFoundError naming the key", async () => {
        const error = await store.get("no/such/key").catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ObjectNotFoundError);
        expect((error as ObjectNotFoundError).key).toBe("no/such/key");
        expect((error as Error).message).toContain("no/such/key");
        await expect(store.get("no/such/key", { offset: 0, length: 1 })).rejects.toBeInstanceOf(ObjectNotFoundError);
        await expect(store.get("no/such/key", { offset: 0, length: 0 })).rejects.toBeInstanceOf(ObjectNotFoundError);
        await expect(store.getStream("no/such/key")).rejects.toBeInstanceOf(ObjectNotFoundError);
      });

      it("head of a missing key is undefined", async () => {
        expect(await store.head("no/such/key")).toBeUndefined();
      });
    });

    describe("range reads", () => {
      const data = Buffer.from("0123456789abcdefghij"); // 20 bytes
      beforeEach(async () => {
        await store.put("r/obj", data);
      });

      it.each([
        ["start", { offset: 0, length: 4 }, "0123"],
        ["middle", { offset: 7, length: 5 }, "789ab"],
        ["end", { offset: 16, length: 4 }, "ghij"],
        ["to the end when length is omitted", { offset: 15 }, "fghij"],
        ["short read past the end", { offset: 17, length: 10 }, "hij"],
        ["empty at the end", { offset: 20, length: 5 }, ""],
        ["empty beyond the end", { offset: 1000, length: 5 }, ""],
        ["empty for length 0", { offset: 3, length: 0 }, ""],
      ])("%s", async (_label, range, expected) => {
        expect((await store.get("r/obj", range)).toString()).toBe(expected);
        expect((await readStream(await store.getStream("r/obj", range))).toString()).toBe(expected);
      });

      it("whole-object stream", async () => {
        expect((await readStream(await store.getStream("r/obj"))).equals(data)).toBe(true);
      });

      it.each([
        [{ offset: -1, length: 2 }],
        [{ offset: 1.5, length: 2 }],
        [{ offset: 0, length: -1 }],
        [{ offset: Number.NaN, length: 1 }],
      ])("refuses %o with InvalidRangeError", async (range) => {
        await expect(store.get("r/obj", range)).rejects.toBeInstanceOf(InvalidRangeError);
      });
    });

    describe("list", () => {
      it("lists by string prefix, in key order, with sizes", async () => {
        const keys = ["b/2", "a/1", "a/10", "a-x", "a/2/deep", "ab/1", "c"];
        for (const [i, key] of keys.entries()) await store.put(key, Buffer.alloc(i + 1));
        const all = await collect(store.list(""));
        expect(all.map((e) => e.key)).toEqual([...keys].sort());
        expect(all.find((e) => e.key === "c")?.size).toBe(7);
        expect(all.every((e) => e.mtime instanceof Date)).toBe(true);
        expect((await collect(store.list("a/"))).map((e) => e.key)).toEqual(["a/1", "a/10", "a/2/deep"]);
        expect((await collect(store.list("a/1"))).map((e) => e.key)).toEqual(["a/1", "a/10"]);
        expect((await collect(store.list("a"))).map((e) => e.key)).toEqual(["a-x", "a/1", "a/10", "a/2/deep", "ab/1"]);
        expect(await collect(store.list("zzz/"))).toEqual([]);
      });

      it(`pages through ${listCount} keys without losing or repeating one`, async () => {
        const keys = Array.from({ length: listCount }, (_, i) => `many/${String(i).padStart(5, "0")}`);
        await inBatches(keys, 32, (key) => store.put(key, Buffer.from(key)));
        await store.put("other/1", Buffer.from("x"));
        const listed = (await collect(store.list("many/"))).map((e) => e.key);
        expect(listed).toEqual(keys);
      });

      it("refuses a malformed prefix", async () => {
        await expect(collect(store.list("../"))).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(collect(store.list("/a"))).rejects.toBeInstanceOf(InvalidKeyError);
      });
    });

    describe("delete", () => {
      it("removes an object, and deleting again or a missing key succeeds", async () => {
        await store.put("d/1", Buffer.from("x"));
        await store.delete("d/1");
        expect(await store.head("d/1")).toBeUndefined();
        await expect(store.get("d/1")).rejects.toBeInstanceOf(ObjectNotFoundError);
        await store.delete("d/1");
        await store.delete("never/was");
        expect(await store.put("d/1", Buffer.from("y"))).toEqual({ created: true });
        expect((await store.get("d/1")).toString()).toBe("y");
      });
    });

    describe("keys", () => {
      it.each(INVALID_KEYS.map(([key, why]) => ({ key, why })))(
        "refuses a key with $why in every operation",
        async ({ key }) => {
          await expect(store.put(key, Buffer.from("x"))).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(store.get(key)).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(store.getStream(key)).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(store.head(key)).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(store.getRef(key)).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(store.putRef(key, Buffer.from("x"))).rejects.toBeInstanceOf(InvalidKeyError);
        },
      );

      it("accepts the longest allowed key", async () => {
        const full = "x".repeat(MAX_SEGMENT_LENGTH);
        const key = `k/${full}/${full}/${"y".repeat(MAX_KEY_LENGTH - 2 * MAX_SEGMENT_LENGTH - 4)}`;
        expect(key.length).toBe(MAX_KEY_LENGTH);
        expect(await store.put(key, Buffer.from("x"))).toEqual({ created: true });
        expect((await store.get(key)).toString()).toBe("x");
      });

      it("refuses object writes under refs/", async () => {
        await expect(store.put("refs/x", Buffer.from("x"))).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.delete("refs/x")).rejects.toBeInstanceOf(InvalidKeyError);
      });
    });

    describe("large objects", () => {
      it(`round-trips ${largeBytes} bytes streamed in, read whole, by range and as a stream`, async () => {
        const data = randomBytes(largeBytes);
        async function* chunks() {
          for (let at = 0; at < data.length; at += 1024 * 1024) yield data.subarray(at, at + 1024 * 1024);
        }
        expect(await store.put("big/1", chunks())).toEqual({ created: true });
        expect((await store.head("big/1"))?.size).toBe(largeBytes);
        expect(sha256(await store.get("big/1"))).toBe(sha256(data));
        const boundary = 5 * 1024 * 1024;
        const slice = await store.get("big/1", { offset: boundary - 10, length: 20 });
        expect(slice.equals(data.subarray(boundary - 10, boundary + 10))).toBe(true);
        expect(sha256(await readStream(await store.getStream("big/1")))).toBe(sha256(data));
      });

      it("round-trips a large buffer", async () => {
        const data = randomBytes(largeBytes);
        expect(await store.put("big/2", data)).toEqual({ created: true });
        expect(sha256(await store.get("big/2"))).toBe(sha256(data));
      });
    });

    describe("concurrency", () => {
      it("concurrent puts of one key all succeed and leave one intact object", async () => {
        const data = randomBytes(64 * 1024);
        const results = await Promise.all(Array.from({ length: 8 }, () => store.put("c/same", data)));
        const created = results.filter((r) => r.created).length;
        expect(created).toBeGreaterThanOrEqual(1);
        if (store.capabilities.exclusiveCreate) expect(created).toBe(1);
        expect((await store.get("c/same")).equals(data)).toBe(true);
        expect((await collect(store.list("c/"))).map((e) => e.key)).toEqual(["c/same"]);
      });
    });

    describe("refs", () => {
      it("a missing ref reads as undefined; create, read, replace", async () => {
        expect(await store.getRef("domains/web1")).toBeUndefined();
        const { version: v1 } = await store.putRef("domains/web1", Buffer.from("image-1"), { expect: null });
        const read = await store.getRef("domains/web1");
        expect(read?.data.toString()).toBe("image-1");
        expect(read?.version).toBe(v1);
        const { version: v2 } = await store.putRef("domains/web1", Buffer.from("image-2"), { expect: v1 });
        expect(v2).not.toBe(v1);
        expect((await store.getRef("domains/web1"))?.data.toString()).toBe("image-2");
        await store.putRef("domains/web1", Buffer.from("image-3"));
        expect((await store.getRef("domains/web1"))?.data.toString()).toBe("image-3");
      });

      it("refuses a write whose expected version is not current", async () => {
        const { version: v1 } = await store.putRef("r", Buffer.from("a"));
        await expect(store.putRef("r", Buffer.from("b"), { expect: null })).rejects.toBeInstanceOf(RefConflictError);
        await store.putRef("r", Buffer.from("b"), { expect: v1 });
        const error = await store.putRef("r", Buffer.from("c"), { expect: v1 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RefConflictError);
        expect((error as RefConflictError).refName).toBe("r");
        expect((await store.getRef("r"))?.data.toString()).toBe("b");
        await expect(store.putRef("missing", Buffer.from("x"), { expect: v1 })).rejects.toBeInstanceOf(
          RefConflictError,
        );
      });

      it("deletes refs, conditionally or not", async () => {
        const { version } = await store.putRef("gone", Buffer.from("a"));
        await expect(store.deleteRef("gone", { expect: "not-the-version" })).rejects.toBeInstanceOf(RefConflictError);
        await store.deleteRef("gone", { expect: version });
        expect(await store.getRef("gone")).toBeUndefined();
        await store.deleteRef("gone");
      });

      it("lists refs by name prefix; refs are objects under refs/", async () => {
        await store.putRef("domains/a", Buffer.from("1"));
        await store.putRef("domains/b", Buffer.from("22"));
        await store.putRef("hosts/h", Buffer.from("3"));
        await store.put("data/x", Buffer.from("not a ref"));
        const refs = await collect(store.listRefs("domains/"));
        expect(refs.map((r) => [r.key, r.size])).toEqual([
          ["domains/a", 1],
          ["domains/b", 2],
        ]);
        expect((await collect(store.listRefs(""))).map((r) => r.key)).toEqual(["domains/a", "domains/b", "hosts/h"]);
        expect((await collect(store.list("refs/"))).map((r) => r.key)).toEqual([
          "refs/domains/a",
          "refs/domains/b",
          "refs/hosts/h",
        ]);
        expect((await store.get("refs/hosts/h")).toString()).toBe("3");
      });

      it("compare-and-swap loses no update under contention (atomic refs only)", async (ctx) => {
        if (!store.capabilities.atomicRefs) ctx.skip();
        await store.putRef("counter", Buffer.from("0"));
        const increment = async () => {
          for (;;) {
            const current = (await store.getRef("counter"))!;
            const next = Buffer.from(String(Number(current.data.toString()) + 1));
            try {
              await store.putRef("counter", next, { expect: current.version });
              return;
            } catch (error) {
              if (!(error instanceof RefConflictError)) throw error;
            }
          }
        };
        await Promise.all(Array.from({ length: 10 }, increment));
        expect((await store.getRef("counter"))?.data.toString()).toBe("10");
      });
    });
  });
}

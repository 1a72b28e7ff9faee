import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  CorruptObjectError,
  InvalidContentIdError,
  MemoryStore,
  contentIdFromBytes,
  contentIdToBytes,
  contentKey,
  getContent,
  getVerified,
  parseContentId,
  putContent,
  sha256Id,
  shortId,
} from "@xenfleet/store";

const hex = createHash("sha256").update("x").digest("hex");

describe("content ids", () => {
  it("parses 64 lowercase hex digits and round-trips through bytes", () => {
    const id = parseContentId("blake3", hex);
    expect(id).toBe(hex);
    expect(contentIdFromBytes("blake3", contentIdToBytes(id))).toBe(id);
    expect(shortId(id)).toBe(hex.slice(0, 8));
    expect(sha256Id(Buffer.from("x"))).toBe(hex);
    expect(contentKey("packs", sha256Id(Buffer.from("x")))).toBe(`packs/${hex.slice(0, 2)}/${hex}`);
  });

  it.each(["", hex.toUpperCase(), hex.slice(1), `${hex}0`, `${hex.slice(1)}g`, `sha256:${hex}`])(
    "refuses %j",
    (text) => {
      expect(() => parseContentId("sha256", text)).toThrow(InvalidContentIdError);
    },
  );

  it("refuses a digest of the wrong size", () => {
    expect(() => contentIdFromBytes("sha256", new Uint8Array(31))).toThrow(InvalidContentIdError);
  });
});

describe("verified reads", () => {
  it("stores under the content key and reads back verified", async () => {
    const store = new MemoryStore();
    const { id, key, created } = await putContent(store, "manifests", Buffer.from("manifest body"));
    expect(created).toBe(true);
    expect(key).toBe(contentKey("manifests", id));
    expect((await getContent(store, "manifests", id)).toString()).toBe("manifest body");
    expect((await putContent(store, "manifests", Buffer.from("manifest body"))).created).toBe(false);
  });

  it("a corrupted object is CorruptObjectError naming the key", async () => {
    const store = new MemoryStore();
    const id = sha256Id(Buffer.from("good"));
    const key = contentKey("manifests", id);
    await store.put(key, Buffer.from("evil"));
    const error = await getVerified(store, key, id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptObjectError);
    expect((error as CorruptObjectError).key).toBe(key);
    expect((error as Error).message).toContain(key);
  });
});

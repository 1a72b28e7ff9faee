import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  type ByteRange,
  EncryptedStore,
  InvalidKeyError,
  InvalidMasterKeyError,
  type ListEntry,
  LimitStore,
  LocalStore,
  MemoryStore,
  masterKeyId,
  NotEncryptedObjectError,
  PackReader,
  PackWriter,
  sha256Id,
  writePack,
  ObjectAuthenticationError,
  ObjectMovedError,
  ObjectNotFoundError,
  type ObjectStore,
  RefConflictError,
  RetryStore,
} from "@xenfleet/store";
import { describeObjectStoreConformance } from "@xenfleet/store/testing";

describeObjectStoreConformance("encrypted over memory", async () => ({
  store: new EncryptedStore(new MemoryStore(), randomBytes(32)),
  cleanup: async () => {},
}));

// The order openStore's result is wrapped in: RetryStore(LimitStore(backend)) inside.
describeObjectStoreConformance("encrypted over retry and limit wrappers", async () => ({
  store: new EncryptedStore(
    new RetryStore(new LimitStore(new MemoryStore(), 8), { sleep: async () => {} }),
    randomBytes(32),
  ),
  cleanup: async () => {},
}));

describeObjectStoreConformance("encrypted over filesystem", async () => {
  const root = await mkdtemp(join(tmpdir(), "xenfleet-encrypted-"));
  return {
    store: new EncryptedStore(await LocalStore.open(root), randomBytes(32)),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

const S = 64 * 1024;
const HEADER = 80;
const TAG = 16;

/** A MemoryStore that remembers the byte ranges read from it. */
class RecordingStore extends MemoryStore {
  readonly reads: Array<{ key: string; range: ByteRange | undefined }> = [];
  override async get(key: string, range?: ByteRange): Promise<Buffer> {
    this.reads.push({ key, range });
    return super.get(key, range);
  }
  override async getStream(key: string, range?: ByteRange): Promise<Readable> {
    this.reads.push({ key, range });
    return super.getStream(key, range);
  }
}

async function keysOf(iterable: AsyncIterable<ListEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of iterable) out.push(e.key);
  return out;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function setup() {
  const inner = new RecordingStore();
  const master = randomBytes(32);
  return { inner, master, store: new EncryptedStore(inner, master) };
}

/** The one inner name a single put produced. */
async function onlyStoredName(inner: ObjectStore): Promise<string> {
  const names = await keysOf(inner.list(""));
  expect(names).toHaveLength(1);
  return names[0]!;
}

describe("EncryptedStore", () => {
  const data = randomBytes(3 * S + 123);

  it("round-trips byte-identically and reports plaintext sizes", async () => {
    const { inner, store } = setup();
    await store.put("packs/ab/obj", data);
    expect((await store.get("packs/ab/obj")).equals(data)).toBe(true);
    expect((await store.head("packs/ab/obj"))?.size).toBe(data.length);
    const stored = await onlyStoredName(inner);
    expect((await inner.head(stored))?.size).toBe(HEADER + data.length + 4 * TAG);
    expect((await inner.get(stored)).includes(data.subarray(1000, 1032))).toBe(false);
  });

  it.each([
    ["the first byte", 0, 1],
    ["the last byte of a segment", S - 1, 1],
    ["the first byte of a segment", S, 1],
    ["across one boundary", S - 10, 20],
    ["across two boundaries", S - 10, S + 20],
    ["a whole segment", 2 * S, S],
    ["to the end", 2 * S + 5, undefined],
    ["past the end", 3 * S + 100, 100],
    ["at the end exactly", 3 * S + 123, 10],
    ["far past the end", 10 * S, 10],
  ])("range read of %s", async (_label, offset, length) => {
    const { store } = setup();
    await store.put("k/r", data);
    const range = { offset, length };
    const expected = data.subarray(offset, length === undefined ? undefined : offset + length);
    expect((await store.get("k/r", range)).equals(expected)).toBe(true);
    expect((await readAll(await store.getStream("k/r", range))).equals(expected)).toBe(true);
  });

  it("reads at the end of an object of whole segments", async () => {
    const { store } = setup();
    const whole = randomBytes(2 * S);
    await store.put("k/w", whole);
    expect((await store.head("k/w"))?.size).toBe(2 * S);
    expect((await store.get("k/w", { offset: 2 * S - 3, length: 10 })).equals(whole.subarray(2 * S - 3))).toBe(true);
    expect((await store.get("k/w", { offset: 2 * S, length: 10 })).length).toBe(0);
    expect((await store.get("k/w", { offset: S, length: S })).equals(whole.subarray(S))).toBe(true);
  });

  it("fetches only the segments a range covers, plus the header", async () => {
    const { inner, store } = setup();
    await store.put("k/r", data);
    inner.reads.length = 0;
    expect(
      (await store.get("k/r", { offset: 2 * S + 5, length: 10 })).equals(data.subarray(2 * S + 5, 2 * S + 15)),
    ).toBe(true);
    const fetched = inner.reads.reduce((sum, r) => sum + (r.range?.length ?? Number.POSITIVE_INFINITY), 0);
    expect(fetched).toBe(HEADER + (S + TAG) + 1);
  });

  it("reads one pack entry without fetching the pack", async () => {
    const { inner, store } = setup();
    const writer = new PackWriter({ entryHash: "sha256", compression: "none", frameEntries: 16 });
    const input = Array.from({ length: 512 }, () => randomBytes(4096)).map((data) => ({ id: sha256Id(data), data }));
    for (const page of input) writer.add(page.id, page.data);
    const pack = writer.finish();
    await writePack(store, pack);
    const reader = await PackReader.open(store, pack.id);
    inner.reads.length = 0;
    expect((await reader.read(input[300]!.id)).equals(input[300]!.data)).toBe(true);
    const fetched = inner.reads.reduce((sum, r) => sum + (r.range?.length ?? Number.POSITIVE_INFINITY), 0);
    expect(fetched).toBeLessThan(pack.bytes.length / 8);
  });

  it("seals streamed chunks the same way as a buffer, whatever the chunk boundaries", async () => {
    const { store } = setup();
    for (const size of [0, 1, S - 1, S, S + 1, 2 * S]) {
      const bytes = randomBytes(size);
      async function* chunks() {
        for (let at = 0; at < size; at += 1000) yield bytes.subarray(at, at + 1000);
      }
      await store.put(`s/${size}`, chunks());
      expect((await store.get(`s/${size}`)).equals(bytes)).toBe(true);
      expect((await store.head(`s/${size}`))?.size).toBe(size);
    }
  });

  it("never reuses a nonce: each write of the same bytes under the same name has its own salt and ciphertext", async () => {
    const { inner, store } = setup();
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      await store.put("k/same", data);
      const sealed = await inner.get(await onlyStoredName(inner));
      const salt = sealed.subarray(16, 48).toString("hex");
      expect(seen.has(salt)).toBe(false);
      seen.add(salt);
      await store.delete("k/same");
    }
    const refs = new Set<string>();
    for (let i = 0; i < 5; i++) {
      await store.putRef("r", Buffer.from("same value"));
      refs.add((await inner.get(await onlyStoredName(inner))).toString("hex"));
    }
    expect(refs.size).toBe(5);
  });

  describe("each failure has its own error", () => {
    async function stored() {
      const s = setup();
      await s.store.put("packs/ab/obj", data);
      const name = await onlyStoredName(s.inner);
      return { ...s, name, sealed: await s.inner.get(name) };
    }

    /** Replaces the stored object's bytes with `bytes`. */
    async function replace(inner: ObjectStore, name: string, bytes: Buffer) {
      await inner.delete(name);
      await inner.put(name, bytes);
    }

    it("a flipped byte anywhere is ObjectAuthenticationError naming the key", async () => {
      for (const at of [20, HEADER + 5, HEADER + S + TAG + 7, -1]) {
        const { inner, store, name, sealed } = await stored();
        const flipped = Buffer.from(sealed);
        flipped[at < 0 ? flipped.length + at : at]! ^= 1;
        await replace(inner, name, flipped);
        const error = await store.get("packs/ab/obj").catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ObjectAuthenticationError);
        expect((error as ObjectAuthenticationError).key).toBe("packs/ab/obj");
        expect((error as ObjectAuthenticationError).wrongKey).toBe(false);
      }
    });

    it.each([
      ["swapped segments", (b: Buffer) => swap(b, 0, 1)],
      ["cut at a segment boundary", (b: Buffer) => b.subarray(0, HEADER + 2 * (S + TAG))],
      ["cut inside a segment", (b: Buffer) => b.subarray(0, b.length - 5)],
      ["extended by a segment", (b: Buffer) => Buffer.concat([b, b.subarray(HEADER, HEADER + S + TAG)])],
    ])("%s fail authentication", async (_label, change) => {
      const { inner, store, name, sealed } = await stored();
      await replace(inner, name, change(sealed));
      await expect(store.get("packs/ab/obj")).rejects.toBeInstanceOf(ObjectAuthenticationError);
    });

    it("a range read past a cut end fails authentication instead of reading short", async () => {
      const { inner, store, name, sealed } = await stored();
      await replace(inner, name, sealed.subarray(0, HEADER + 2 * (S + TAG)));
      await expect(store.get("packs/ab/obj", { offset: 2 * S + 1, length: 10 })).rejects.toBeInstanceOf(
        ObjectAuthenticationError,
      );
    });

    it("an object moved to another name is ObjectMovedError", async () => {
      const { inner, store, name, sealed } = await stored();
      await store.put("packs/cd/other", Buffer.from("x"));
      const other = (await keysOf(inner.list(""))).find((n) => n !== name)!;
      await replace(inner, other, sealed);
      const error = await store.get("packs/cd/other").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ObjectMovedError);
      expect((error as ObjectMovedError).key).toBe("packs/cd/other");
      await expect(store.get("packs/cd/other", { offset: 2 * S, length: 5 })).rejects.toBeInstanceOf(ObjectMovedError);
    });

    it("a ref value moved to another ref is ObjectMovedError", async () => {
      const { inner, store } = setup();
      await store.putRef("images/a/1", Buffer.from("one"));
      await store.putRef("images/b/1", Buffer.from("two"));
      const [a, b] = await keysOf(inner.listRefs(""));
      await inner.putRef(b!, (await inner.getRef(a!))!.data);
      await expect(store.getRef("images/b/1")).rejects.toBeInstanceOf(ObjectMovedError);
    });

    it("another master key is ObjectAuthenticationError saying so", async () => {
      const { inner, store } = await stored();
      const reader = new EncryptedStore(inner, randomBytes(32));
      // "packs/ab/obj" holds no content id, so every key stores it under the same name.
      const wrong = await reader.get("packs/ab/obj").catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(ObjectAuthenticationError);
      expect((wrong as ObjectAuthenticationError).wrongKey).toBe(true);
      expect((wrong as Error).message).toContain(`another key (key id ${store.keyId}; this key's is ${reader.keyId})`);
    });

    it("names a master key by a fingerprint that is the same for every store and differs between keys", () => {
      const master = randomBytes(32);
      expect(masterKeyId(master)).toMatch(/^[0-9a-f]{16}$/);
      expect(new EncryptedStore(new MemoryStore(), master).keyId).toBe(masterKeyId(master));
      expect(masterKeyId(randomBytes(32))).not.toBe(masterKeyId(master));
    });

    it("a plain object read through the encrypted store is NotEncryptedObjectError", async () => {
      const inner = new MemoryStore();
      await inner.put("k/plain", randomBytes(5000));
      await inner.put("k/tiny", Buffer.from("hi"));
      const store = new EncryptedStore(inner, randomBytes(32));
      await expect(store.get("k/plain")).rejects.toBeInstanceOf(NotEncryptedObjectError);
      await expect(store.get("k/plain", { offset: 3 * S, length: 1 })).rejects.toBeInstanceOf(NotEncryptedObjectError);
      await expect(store.get("k/tiny")).rejects.toBeInstanceOf(NotEncryptedObjectError);
      await expect(store.head("k/tiny")).rejects.toBeInstanceOf(NotEncryptedObjectError);
    });

    it("a missing object is ObjectNotFoundError naming the key, not the stored name", async () => {
      const { store } = setup();
      const key = `packs/ab/${"ab".repeat(32)}`;
      for (const read of [
        () => store.get(key),
        () => store.get(key, { offset: S + 1, length: 2 }),
        () => store.getStream(key),
      ]) {
        const error = await read().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ObjectNotFoundError);
        expect((error as ObjectNotFoundError).key).toBe(key);
      }
    });

    it("a lost compare-and-swap names the ref, not its stored name", async () => {
      const { store } = setup();
      const name = `images/web/${"cd".repeat(32)}`;
      await store.putRef(name, Buffer.from("a"));
      const error = await store.putRef(name, Buffer.from("b"), { expect: null }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RefConflictError);
      expect((error as RefConflictError).refName).toBe(name);
    });
  });

  describe("names", () => {
    const id = (seed: string) => createHash("sha256").update(seed).digest("hex");

    it("stores content ids and hooks under names that do not contain them, and lists the originals back", async () => {
      const { inner, store } = setup();
      const keys = [
        `packs/${id("p").slice(0, 2)}/${id("p")}`,
        `manifests/${id("m").slice(0, 2)}/${id("m")}`,
        `hooks/${id("h").slice(0, 24)}/${id("b")}`,
        `damaged/packs/${id("d").slice(0, 2)}/${id("d")}`,
        "locks/host-1-1234",
      ];
      for (const key of keys) await store.put(key, Buffer.from(key));
      await store.putRef(`images/web/${id("m")}`, Buffer.from("x"));
      const stored = (await keysOf(inner.list(""))).join("\n");
      for (const secret of [id("p"), id("m"), id("h").slice(0, 24), id("b"), id("d")]) {
        expect(stored).not.toContain(secret);
        expect(stored).not.toContain(secret.slice(0, 16));
      }
      expect(stored).toContain("locks/host-1-1234");
      expect((await keysOf(store.list(""))).sort()).toEqual([...keys, `refs/images/web/${id("m")}`].sort());
      expect(await keysOf(store.list(`hooks/${id("h").slice(0, 24)}/`))).toEqual([keys[2]]);
      expect(await keysOf(store.list(`packs/${id("p").slice(0, 2)}/`))).toEqual([keys[0]]);
      expect(await keysOf(store.listRefs("images/web/"))).toEqual([`images/web/${id("m")}`]);
      for (const key of keys) expect((await store.get(key)).toString()).toBe(key);
    });

    it("maps the same name to the same stored name under one key (dedup), and elsewhere under another", async () => {
      const inner = new MemoryStore();
      const master = randomBytes(32);
      const key = `packs/${id("p").slice(0, 2)}/${id("p")}`;
      expect(await new EncryptedStore(inner, master).put(key, Buffer.from("a"))).toEqual({ created: true });
      expect(await new EncryptedStore(inner, master).put(key, Buffer.from("a"))).toEqual({ created: false });
      expect(await new EncryptedStore(inner, randomBytes(32)).put(key, Buffer.from("a"))).toEqual({ created: true });
    });

    it("is one-to-one on names with fan-out segments that match their id or not", async () => {
      const { store } = setup();
      const keys: string[] = [];
      for (let i = 0; i < 300; i++) {
        const h = id(String(i));
        keys.push(`f/${h.slice(0, 2)}/${h}`, `f/${h.slice(2, 4)}/${h}`, `g/${h.slice(0, 16)}/${h.slice(0, 2)}`);
      }
      for (const key of keys) await store.put(key, Buffer.from(key));
      expect((await keysOf(store.list(""))).sort()).toEqual([...new Set(keys)].sort());
      for (const key of keys.slice(0, 60)) expect((await store.get(key)).toString()).toBe(key);
    });

    it("leaves the key hierarchy's names alone: refused as keys, left out of listings", async () => {
      const { inner, store } = setup();
      await inner.put("xenfleet-store.json", Buffer.from("{}"));
      await inner.put("keys/abc", Buffer.from("wrapped"));
      await store.put("k/1", Buffer.from("x"));
      expect(await keysOf(store.list(""))).toEqual(["k/1"]);
      await expect(store.put("keys/abc", Buffer.from("x"))).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.get("xenfleet-store.json")).rejects.toBeInstanceOf(InvalidKeyError);
    });
  });

  it("passes location, capabilities and sweepTemporary through", async () => {
    const root = await mkdtemp(join(tmpdir(), "xenfleet-encrypted-"));
    try {
      const local = await LocalStore.open(root);
      const store = new EncryptedStore(local, randomBytes(32));
      expect(store.location).toBe(`${local.location} (encrypted)`);
      expect(store.capabilities).toEqual(local.capabilities);
      expect(await store.sweepTemporary?.(0)).toEqual({ files: 0, bytes: 0 });
      expect(new EncryptedStore(new MemoryStore(), randomBytes(32)).sweepTemporary).toBeUndefined();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("shows no key to a logger or an inspector", async () => {
    const master = randomBytes(32);
    const store = new EncryptedStore(new MemoryStore(), master);
    await store.put("k/1", Buffer.from("x"));
    const shown = `${JSON.stringify(store)} ${inspect(store, { depth: 10, showHidden: true })}`;
    expect(shown).toContain("memory:");
    expect(shown).not.toContain(master.toString("hex"));
    expect(shown).not.toContain(master.toString("base64"));
    expect(shown).not.toMatch(/content|names:/);
  });

  it("refuses a master key that is not 32 bytes", () => {
    expect(() => new EncryptedStore(new MemoryStore(), randomBytes(16))).toThrow(InvalidMasterKeyError);
  });
});

function swap(sealed: Buffer, i: number, j: number): Buffer {
  const out = Buffer.from(sealed);
  const at = (k: number) => HEADER + k * (S + TAG);
  sealed.copy(out, at(j), at(i), at(i) + S + TAG);
  sealed.copy(out, at(i), at(j), at(j) + S + TAG);
  return out;
}

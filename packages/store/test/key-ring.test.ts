import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createKeyFile,
  KeyFileError,
  KeyRing,
  KeyRingError,
  WRAPPED_KEYS_PREFIX,
  MemoryStore,
  newMasterKey,
  readKeyFile,
  WrongKeyError,
  type KeySecret,
} from "@xenfleet/store";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

// Real scrypt defaults cost 128 MiB and half a second a try; these tests check the logic, not the cost.
const CHEAP = { N: 2 ** 10, r: 8, p: 1 };
const STORE_ID = "0123456789abcdef0123456789abcdef";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "xf-key-ring-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fileSecret = async (name: string): Promise<KeySecret> => ({
  kind: "file",
  file: await createKeyFile(join(dir, name)),
});
const passphrase = (text: string): KeySecret => ({ kind: "passphrase", passphrase: text, source: "TEST_PASSPHRASE" });

describe("key files", () => {
  it("are written mode 0600, read back, and never overwritten", async () => {
    const path = join(dir, "a.key");
    const made = await createKeyFile(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const read = await readKeyFile(path);
    expect(read.id).toBe(made.id);
    expect(read.kek.equals(made.kek)).toBe(true);
    await expect(createKeyFile(path)).rejects.toThrow(/already exists/);
    expect((await readKeyFile(path)).kek.equals(made.kek)).toBe(true);
  });

  it.each([
    ["missing", undefined, /no such file/],
    ["not JSON", "hello", /not JSON/],
    ["another format", JSON.stringify({ format: "x" }), /not a xenfleet key file/],
    ["a short key", JSON.stringify({ format: "xenfleet-key-file", version: 1, id: "00", key: "AAAA" }), /32 bytes/],
    ["a future version", JSON.stringify({ format: "xenfleet-key-file", version: 2 }), /version 2/],
  ])("a key file %s is KeyFileError", async (_what, text, message) => {
    const path = join(dir, "bad.key");
    if (text !== undefined) await writeFile(path, text);
    const err = await readKeyFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyFileError);
    expect((err as Error).message).toMatch(message);
  });

  it("a key file whose key was edited is reported damaged", async () => {
    const path = join(dir, "a.key");
    await createKeyFile(path);
    const doc = JSON.parse(await readFile(path, "utf8"));
    doc.key = Buffer.alloc(32, 7).toString("base64");
    await writeFile(path, JSON.stringify(doc));
    await expect(readKeyFile(path)).rejects.toThrow(/damaged/);
  });
});

describe("KeyRing", () => {
  it("unwraps the master key with the key file that wrapped it, with one read", async () => {
    const store = new MemoryStore();
    const ring = new KeyRing(store, STORE_ID, "mem");
    const master = newMasterKey();
    const secret = await fileSecret("a.key");
    const info = await ring.add(master, secret, { label: "ops", host: "h1" });
    expect(info).toMatchObject({ kind: "file", label: "ops", host: "h1" });
    const unlocked = await ring.unlock(secret);
    expect(unlocked.masterKey.equals(master)).toBe(true);
    expect(unlocked.keyId).toBe(info.id);
    // The stored wrapping does not hold the master key in the clear.
    const stored = await store.get(WRAPPED_KEYS_PREFIX + info.id);
    expect(stored.includes(master)).toBe(false);
    expect(stored.includes(Buffer.from(master.toString("base64")))).toBe(false);
  });

  it("a key file the store has no wrapping for is WrongKeyError naming the file and the store", async () => {
    const ring = new KeyRing(new MemoryStore(), STORE_ID, "s3://bucket/x");
    await ring.add(newMasterKey(), await fileSecret("a.key"));
    const other = await fileSecret("b.key");
    const err = await ring.unlock(other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WrongKeyError);
    expect((err as Error).message).toContain(join(dir, "b.key"));
    expect((err as Error).message).toContain("s3://bucket/x");
  });

  it("a wrapping that fails authentication is WrongKeyError, never corruption", async () => {
    const store = new MemoryStore();
    const ring = new KeyRing(store, STORE_ID, "mem");
    const secret = await fileSecret("a.key");
    const { id } = await ring.add(newMasterKey(), secret);
    const doc = JSON.parse((await store.get(WRAPPED_KEYS_PREFIX + id)).toString());
    const sealed = Buffer.from(doc.sealed, "base64");
    sealed[0]! ^= 1;
    doc.sealed = sealed.toString("base64");
    await store.delete(WRAPPED_KEYS_PREFIX + id);
    await store.put(WRAPPED_KEYS_PREFIX + id, Buffer.from(JSON.stringify(doc)));
    await expect(ring.unlock(secret)).rejects.toThrow(WrongKeyError);
    await expect(ring.unlock(secret)).rejects.toThrow(/authentication failed/);
  });

  it("a wrapping is bound to its store and its metadata", async () => {
    const store = new MemoryStore();
    const secret = await fileSecret("a.key");
    const { id } = await new KeyRing(store, STORE_ID, "mem").add(newMasterKey(), secret, { label: "one" });
    // The same wrapping read as another store's.
    await expect(new KeyRing(store, "f".repeat(32), "mem").unlock(secret)).rejects.toThrow(/authentication failed/);
    // Its label edited.
    const doc = JSON.parse((await store.get(WRAPPED_KEYS_PREFIX + id)).toString());
    await store.delete(WRAPPED_KEYS_PREFIX + id);
    await store.put(WRAPPED_KEYS_PREFIX + id, Buffer.from(JSON.stringify({ ...doc, label: "two" })));
    await expect(new KeyRing(store, STORE_ID, "mem").unlock(secret)).rejects.toThrow(WrongKeyError);
  });

  it("a passphrase wraps through scrypt with its parameters and a salt per wrapping", async () => {
    const store = new MemoryStore();
    const ring = new KeyRing(store, STORE_ID, "mem");
    const master = newMasterKey();
    const a = await ring.add(master, passphrase("correct horse"), { scrypt: CHEAP });
    const b = await ring.add(master, passphrase("correct horse"), { scrypt: CHEAP });
    const docA = JSON.parse((await store.get(WRAPPED_KEYS_PREFIX + a.id)).toString());
    const docB = JSON.parse((await store.get(WRAPPED_KEYS_PREFIX + b.id)).toString());
    expect(docA.kdf).toMatchObject({ name: "scrypt", ...CHEAP });
    expect(docA.kdf.salt).not.toBe(docB.kdf.salt);
    expect(docA.sealed).not.toBe(docB.sealed);
    expect((await ring.unlock(passphrase("correct horse"))).masterKey.equals(master)).toBe(true);
    const err = await ring.unlock(passphrase("wrong horse")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WrongKeyError);
    expect((err as Error).message).toContain("the passphrase in TEST_PASSPHRASE");
    expect((err as Error).message).not.toContain("wrong horse");
  });

  it("refuses scrypt parameters beyond its memory bound rather than allocating them", async () => {
    const store = new MemoryStore();
    const ring = new KeyRing(store, STORE_ID, "mem");
    const { id } = await ring.add(newMasterKey(), passphrase("pw"), { scrypt: CHEAP });
    const doc = JSON.parse((await store.get(WRAPPED_KEYS_PREFIX + id)).toString());
    doc.kdf.N = 2 ** 30;
    await store.delete(WRAPPED_KEYS_PREFIX + id);
    await store.put(WRAPPED_KEYS_PREFIX + id, Buffer.from(JSON.stringify(doc)));
    await expect(ring.unlock(passphrase("pw"))).rejects.toThrow(KeyRingError);
  });

  it("rotates: a new key added, the old one removed, the data's key unchanged", async () => {
    const store = new MemoryStore();
    const ring = new KeyRing(store, STORE_ID, "mem");
    const master = newMasterKey();
    const oldKey = await fileSecret("old.key");
    const newKey = await fileSecret("new.key");
    const old = await ring.add(master, oldKey);
    await expect(ring.add(master, oldKey)).rejects.toThrow(/already opens/);
    const added = await ring.add(master, newKey, { label: "2027" });
    // Two keys added in one millisecond list by id: compare as sets.
    expect(new Set((await ring.list()).map((k) => k.id))).toEqual(new Set([old.id, added.id]));
    // The key given to unlock is not removed: another one must be shown to open the store.
    await expect(ring.remove(old.id, old.id)).rejects.toThrow(/unlock with another/);
    const { masterKey, keyId } = await ring.unlock(newKey);
    await ring.remove(old.id, keyId);
    expect((await ring.list()).map((k) => k.id)).toEqual([added.id]);
    expect(masterKey.equals(master)).toBe(true);
    await expect(ring.unlock(oldKey)).rejects.toThrow(WrongKeyError);
    expect((await ring.unlock(newKey)).masterKey.equals(master)).toBe(true);
  });

  it("refuses to remove the last key, or one it does not have", async () => {
    const ring = new KeyRing(new MemoryStore(), STORE_ID, "mem");
    const only = await ring.add(newMasterKey(), await fileSecret("a.key"));
    await expect(ring.remove(only.id, "0000000000000000")).rejects.toThrow(/last key/);
    await expect(ring.remove("1111111111111111", only.id)).rejects.toThrow(/has no key 1111111111111111/);
    expect(await ring.list()).toHaveLength(1);
  });
});

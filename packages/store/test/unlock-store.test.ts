import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createKeyFile,
  EncryptedStore,
  initStore,
  openInnerStore,
  openStore,
  parseStoreUrl,
  readKeyRing,
  STORE_HEADER_NAME,
  StoreExistsError,
  StoreKeyMissingError,
  StoreNotEncryptedError,
  UnsupportedStoreError,
  WrongKeyError,
  type ObjectStore,
} from "@xenfleet/store";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

let dir: string;
let root: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "xf-unlock-"));
  root = join(dir, "store");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const inner = () => openInnerStore(parseStoreUrl(root, {}));
async function init(options: Parameters<typeof initStore>[1]) {
  const store = await inner();
  try {
    return await initStore(store, options);
  } finally {
    await store.close();
  }
}
async function using<T>(store: ObjectStore, run: (s: ObjectStore) => Promise<T>): Promise<T> {
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}
/** Every file under the store's directory, read whole. */
async function storeFiles(): Promise<Buffer[]> {
  const names = (await readdir(root, { recursive: true })) as string[];
  const files: Buffer[] = [];
  for (const n of names) if ((await stat(join(root, n))).isFile()) files.push(await readFile(join(root, n)));
  return files;
}

describe("an encrypted store", () => {
  it("is made by init (writing a new key file) and opens only with its key", async () => {
    const keyFile = join(dir, "store.key");
    const made = await init({ encrypt: { file: keyFile } });
    expect(made).toMatchObject({ encrypted: true, key: { kind: "file", keyFileCreated: true } });
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);

    const secret = randomBytes(100_000);
    await using(await openStore(root, {}, { key: { file: keyFile } }), async (store) => {
      expect(store).toBeInstanceOf(EncryptedStore);
      await store.put("packs/ab/secret", secret);
      expect((await store.get("packs/ab/secret")).equals(secret)).toBe(true);
      expect(
        (await store.get("packs/ab/secret", { offset: 70_000, length: 10 })).equals(secret.subarray(70_000, 70_010)),
      ).toBe(true);
    });
    // Nothing of the secret is in any file of the store.
    for (const file of await storeFiles()) expect(file.includes(secret.subarray(1000, 1032))).toBe(false);

    const missing = await openStore(root, {}).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(StoreKeyMissingError);
    expect((missing as Error).message).toContain("--key-file");
    expect((missing as Error).message).toContain("XENFLEET_KEY_FILE");

    const other = join(dir, "other.key");
    await createKeyFile(other);
    const wrong = await openStore(root, {}, { key: { file: other } }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(WrongKeyError);
    expect((wrong as Error).message).toContain(other);
  });

  it("opens with a passphrase it was made with", async () => {
    const key = { passphrase: "a long passphrase", source: "XENFLEET_PASSPHRASE" };
    await init({ encrypt: key, scrypt: { N: 1024, r: 8, p: 1 } });
    await using(await openStore(root, {}, { key }), async (store) => {
      await store.put("manifests/ab/x", Buffer.from("m"));
      expect((await store.get("manifests/ab/x")).toString()).toBe("m");
    });
    await expect(openStore(root, {}, { key: { ...key, passphrase: "another" } })).rejects.toThrow(WrongKeyError);
  });

  it("hides its header and keys from the encrypted namespace, and lists its keys without a key", async () => {
    const keyFile = join(dir, "store.key");
    await init({ encrypt: { file: keyFile }, label: "first" });
    await using(await openStore(root, {}, { key: { file: keyFile } }), async (store) => {
      const listed = [];
      for await (const e of store.list("")) listed.push(e.key);
      expect(listed).toEqual([]);
    });
    await using(await inner(), async (store) => {
      const keys = await (await readKeyRing(store)).list();
      expect(keys.map((k) => k.label)).toEqual(["first"]);
    });
  });

  it("refuses init twice, and init of a store that holds objects", async () => {
    const keyFile = join(dir, "store.key");
    await init({ encrypt: { file: keyFile } });
    await expect(init({ encrypt: { file: keyFile } })).rejects.toThrow(StoreExistsError);
    const plainRoot = join(dir, "plain");
    await using(await openStore(plainRoot, {}), (s) => s.put("blocks/ab/x", Buffer.from("x")));
    const plain = await openInnerStore(parseStoreUrl(plainRoot, {}));
    await expect(using(plain, (s) => initStore(s, { encrypt: { file: keyFile } }))).rejects.toThrow(
      /already holds objects/,
    );
  });

  it("refuses a header of an encryption scheme it does not know", async () => {
    await using(await inner(), (s) =>
      s.put(
        STORE_HEADER_NAME,
        Buffer.from(
          JSON.stringify({
            format: "xenfleet-store",
            version: 1,
            storeId: "0".repeat(32),
            created: new Date().toISOString(),
            encryption: { scheme: "rot13", keys: "keys/" },
          }),
        ),
      ),
    );
    await expect(openStore(root, {}, { key: { file: join(dir, "k") } })).rejects.toThrow(UnsupportedStoreError);
  });
});

describe("a plain store", () => {
  it("without a header keeps working, and writes none", async () => {
    await using(await openStore(root, {}), (s) => s.put("blocks/ab/x", Buffer.from("x")));
    await using(await openStore(root, {}, { create: false }), async (s) =>
      expect((await s.get("blocks/ab/x")).toString()).toBe("x"),
    );
    await using(await inner(), async (s) => expect(await s.head(STORE_HEADER_NAME)).toBeUndefined());
  });

  it("made by init without --encrypt opens without a key", async () => {
    expect(await init({})).toMatchObject({ encrypted: false });
    await using(await openStore(root, {}), (s) => s.put("blocks/ab/x", Buffer.from("x")));
  });

  it("refuses a key rather than ignoring it", async () => {
    await using(await openStore(root, {}), (s) => s.put("blocks/ab/x", Buffer.from("x")));
    const err = await openStore(root, {}, { key: { file: "/nowhere.key" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreNotEncryptedError);
    expect((err as Error).message).toContain("/nowhere.key");
  });
});

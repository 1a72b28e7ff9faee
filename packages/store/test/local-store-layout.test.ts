import { mkdtemp, readdir, rm, symlink, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidKeyError, LocalStore, StoreMissingError, contentKey, openStore, sha256Id } from "@xenfleet/store";

describe("LocalStore on disk", () => {
  let root: string;
  let store: LocalStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "xenfleet-local-"));
    store = await LocalStore.open(join(root, "store"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("maps a content key to a fanned-out file and leaves no temp file behind", async () => {
    const data = Buffer.from("pack bytes");
    const key = contentKey("packs", sha256Id(data));
    await store.put(key, data);
    expect(await readdir(join(root, "store", "packs"))).toEqual([key.split("/")[1]]);
    expect(await readdir(join(root, "store", ".tmp"))).toEqual([]);
  });

  it("opened with create: false, refuses a missing directory or a file and makes nothing", async () => {
    const missing = join(root, "stor");
    await expect(LocalStore.open(missing, { create: false })).rejects.toThrow(StoreMissingError);
    await expect(openStore(missing, {}, { create: false })).rejects.toThrow(/no store at .*stor: no such directory/);
    expect(await readdir(root)).toEqual(["store"]);
    await writeFile(join(root, "file"), "x");
    await expect(LocalStore.open(join(root, "file"), { create: false })).rejects.toThrow(/not a directory/);
    // An existing store opens as before.
    const again = await openStore(join(root, "store"), {}, { create: false });
    await again.close();
  });

  it("never lists its temp and lock files", async () => {
    await writeFile(join(root, "store", ".tmp", "stray.tmp"), "half-written");
    await store.putRef("r", Buffer.from("x"));
    const keys: string[] = [];
    for await (const entry of store.list("")) keys.push(entry.key);
    expect(keys).toEqual(["refs/r"]);
  });

  it("refuses a key that is also a directory of other keys, and one below an object", async () => {
    await store.put("a/b", Buffer.from("x"));
    await expect(store.put("a", Buffer.from("y"))).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.put("a/b/c", Buffer.from("y"))).rejects.toBeInstanceOf(InvalidKeyError);
    expect(await store.head("a")).toBeUndefined();
  });

  it("does not follow keys out of the root", async () => {
    await expect(store.get("../outside")).rejects.toBeInstanceOf(InvalidKeyError);
    await mkdir(join(root, "secret"));
    await writeFile(join(root, "secret", "f"), "secret");
    // A symlink planted inside the root is not a key the store wrote; the key rules still hold.
    await symlink(join(root, "secret"), join(root, "store", "link"));
    await expect(store.get("link/../../secret/f")).rejects.toBeInstanceOf(InvalidKeyError);
  });

  it("writes into a directory removed behind its back by making it again", async () => {
    await store.put("data/x/one", Buffer.from("1"));
    await store.put("hooks/h/one", new Uint8Array(0));
    await store.putRef("group/one", Buffer.from("r"));
    await rm(join(root, "store", "data", "x"), { recursive: true });
    await rm(join(root, "store", "hooks"), { recursive: true });
    await rm(join(root, "store", "refs", "group"), { recursive: true });
    expect(await store.put("data/x/two", Buffer.from("2"))).toEqual({ created: true });
    expect(await store.put("hooks/h/two", new Uint8Array(0))).toEqual({ created: true });
    await store.putRef("group/two", Buffer.from("s"));
    expect((await store.get("data/x/two")).toString()).toBe("2");
    expect(await store.head("hooks/h/two")).toMatchObject({ size: 0 });
    expect((await store.getRef("group/two"))?.data.toString()).toBe("s");
  });
});

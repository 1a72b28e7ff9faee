import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { readStream } from "@xenfleet/format";
import { EncryptedStore, type ObjectStore } from "@xenfleet/store";
import { compressImage, importImage, verifyImage } from "../src/index.js";
import { hookTarget } from "../src/hooks.js";
import { idFromKey } from "../src/keys.js";
import { cleanupAll, exportToBuffer, localStore, sampleStream } from "./helpers.js";

afterAll(cleanupAll);

const WINDOW = 32;

/**
 * Every 32-byte run at offsets 0, 32, 64, ... of every non-zero page of a
 * stream, indexed by its first four bytes so that a store can be scanned
 * at every byte offset cheaply.
 */
async function pageWindows(stream: Buffer): Promise<Map<number, Buffer[]>> {
  const windows = new Map<number, Buffer[]>();
  for await (const ev of readStream([stream])) {
    if (ev.kind !== "page-data") continue;
    for (const page of ev.pages) {
      const bytes = Buffer.from(page);
      for (let at = 0; at + WINDOW <= bytes.length; at += WINDOW) {
        const window = bytes.subarray(at, at + WINDOW);
        if (window.every((b) => b === 0)) continue;
        const first = window.readUInt32LE(0);
        const list = windows.get(first) ?? [];
        list.push(window);
        windows.set(first, list);
      }
    }
  }
  return windows;
}

/** How many objects of `store` (every one, refs included) hold a run from `windows`, at any byte offset. */
async function objectsHoldingPages(store: ObjectStore, windows: Map<number, Buffer[]>): Promise<number> {
  let holding = 0;
  for await (const entry of store.list("")) {
    const bytes = await store.get(entry.key);
    let found = false;
    for (let at = 0; !found && at + WINDOW <= bytes.length; at++) {
      const candidates = windows.get(bytes.readUInt32LE(at));
      if (candidates?.some((w) => bytes.compare(w, 0, WINDOW, at, at + WINDOW) === 0)) found = true;
    }
    if (found) holding++;
  }
  return holding;
}

async function storedNames(store: ObjectStore): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of store.list("")) names.push(entry.key);
  return names;
}

describe("an image in an encrypted store", () => {
  it("leaves no 32-byte run of any page in any stored object, and exports byte for byte", async () => {
    const stream = await sampleStream({ domainType: "x86-hvm", pages: 1500, seed: 21 });
    const windows = await pageWindows(stream);

    // The scan can fail: the same stream in a plain store is found.
    const plain = await localStore();
    await importImage(plain, [stream], { domain: "vm" });
    expect(await objectsHoldingPages(plain, windows)).toBeGreaterThan(0);

    const inner = await localStore();
    const store = new EncryptedStore(inner, randomBytes(32));
    const result = await importImage(store, [stream], { domain: "vm" });
    expect(await objectsHoldingPages(inner, windows)).toBe(0);
    expect((await exportToBuffer(store, result.imageId)).equals(stream)).toBe(true);
    await expect(verifyImage(store, result.imageId)).resolves.toMatchObject({ bytes: stream.length });
  });

  it("stores it under names holding no content id and no hook of the stream", async () => {
    const stream = await sampleStream({ domainType: "x86-pv", pages: 900, seed: 22 });
    const inner = await localStore();
    const store = new EncryptedStore(inner, randomBytes(32));
    const result = await importImage(store, [stream], { domain: "vm" });

    const secrets = new Set<string>([result.imageId]);
    let hooks = 0;
    for (const key of await storedNames(store)) {
      const id = idFromKey(key);
      if (id !== undefined) secrets.add(id);
      const hook = hookTarget(key);
      if (hook !== undefined) {
        secrets.add(hook.hook);
        hooks++;
      }
    }
    expect(hooks).toBeGreaterThan(0);
    expect(secrets.size).toBeGreaterThan(hooks);
    const names = (await storedNames(inner)).join("\n");
    for (const secret of secrets) expect(names).not.toContain(secret.slice(0, 16));
  });

  it("is recompressed by a holder of the key, and still exports byte for byte", async () => {
    const stream = await sampleStream({ domainType: "x86-hvm", pages: 800, seed: 23 });
    const store = new EncryptedStore(await localStore(), randomBytes(32));
    const result = await importImage(store, [stream], { domain: "vm" });
    const compressed = await compressImage(store, result.imageId, "zstd");
    expect(compressed.rewritten).toBeGreaterThan(0);
    expect((await exportToBuffer(store, result.imageId)).equals(stream)).toBe(true);
  });
});

/**
 * Compress workers on an encrypted store: one holding the store's key file
 * (named by its configuration, never by the job) rewrites the encrypted
 * packs compressed; one without it refuses the job, saying which key it
 * lacks, and changes nothing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Job } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { parseImageId, verifyImage } from "@xenfleet/image";
import { ConfigError, createLogger, jobData } from "@xenfleet/jobs";
import {
  createKeyFile,
  initStore,
  openInnerStore,
  openStore,
  parseStoreUrl,
  StoreKeyMissingError,
  StoreNotEncryptedError,
} from "@xenfleet/store";
import { saveDomain } from "@xenfleet/transfer";
import { compressHandler, keyFileOfStore, Stores, storeCredentialVariables } from "../../src/index.js";

const MiB = 2 ** 20;
const logger = createLogger({ service: "test", level: "silent" });

describe("compress handler on an encrypted store", () => {
  let dir: string;
  let url: string;
  let keyFile: string;
  let imageId: string;

  const compressWith = async (env: Record<string, string>) => {
    const stores = new Stores({ XENFLEET_STORES: `main=${url}`, ...env });
    const payload = jobData("compress", { store: "main", image: imageId, algorithm: "zstd", level: 3 });
    try {
      return await compressHandler(stores)(payload, { job: {} as Job, signal: new AbortController().signal, logger });
    } finally {
      await stores.close();
    }
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "xenfleet-compress-enc-"));
    url = pathToFileURL(join(dir, "store")).href;
    keyFile = join(dir, "store.key");
    const inner = await openInnerStore(parseStoreUrl(url, {}));
    await initStore(inner, { encrypt: { file: keyFile } });
    await inner.close();
    const host = await SimHost.open(join(dir, "host"), { name: "h", totalMemoryBytes: 64 * MiB });
    const domain = await host.createDomain({ name: "vm", type: "hvm", memoryBytes: 4 * MiB, seed: 3 });
    const store = await openStore(url, {}, { key: { file: keyFile } });
    try {
      imageId = (await saveDomain({ hypervisor: host, store, domain: domain.uuid, mode: "checkpoint" })).imageId;
    } finally {
      await store.close();
    }
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a worker without the store's key refuses the job, naming the variables that give it", async () => {
    const err = await compressWith({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreKeyMissingError);
    expect((err as StoreKeyMissingError).unrecoverable).toBe(true);
    expect((err as Error).message).toMatch(/XENFLEET_KEY_FILE.*XENFLEET_STORE_<NAME>_KEY_FILE/);
  });

  it("a worker with the key file of its configuration compresses the encrypted packs; the image still exports", async () => {
    const r = await compressWith({ XENFLEET_STORE_MAIN_KEY_FILE: keyFile });
    expect(r.bytesOut).toBeLessThan(r.bytesIn);
    const store = await openStore(url, {}, { key: { file: keyFile } });
    try {
      await verifyImage(store, parseImageId(imageId));
    } finally {
      await store.close();
    }
  });

  it("a key file for every store (XENFLEET_KEY_FILE) is refused by a plain one rather than ignored", async () => {
    const plain = pathToFileURL(join(dir, "plain")).href;
    const stores = new Stores({ XENFLEET_STORES: `main=${plain}`, XENFLEET_KEY_FILE: keyFile });
    try {
      await expect(stores.get("main")).rejects.toThrow(StoreNotEncryptedError);
    } finally {
      await stores.close();
    }
  });
});

describe("key files in a worker's configuration", () => {
  it("are read at start-up: a path that names no key file is ConfigError naming the store and the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "xenfleet-key-config-"));
    try {
      const good = join(dir, "good.key");
      await createKeyFile(good);
      const url = pathToFileURL(join(dir, "store")).href;
      const ok = new Stores({ XENFLEET_STORES: `main=${url}`, XENFLEET_KEY_FILE: good });
      expect(ok.checkKeyFiles()).toBe(ok);
      const missing = join(dir, "missing.key");
      const bad = new Stores({
        XENFLEET_STORES: `main=${url},cold=${url}/cold`,
        XENFLEET_STORE_COLD_KEY_FILE: missing,
      });
      expect(() => bad.checkKeyFiles()).toThrow(ConfigError);
      expect(() => bad.checkKeyFiles()).toThrow(`store cold: key file ${missing}: no such file`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a store's own key file comes first, then XENFLEET_KEY_FILE", () => {
    const env = storeCredentialVariables({
      XENFLEET_STORE_COLD_TIER_KEY_FILE: "/etc/xenfleet/cold.key",
      XENFLEET_STORE_COLD_TIER_REGION: "eu",
      OTHER: "x",
    });
    expect(env).toEqual({
      XENFLEET_STORE_COLD_TIER_KEY_FILE: "/etc/xenfleet/cold.key",
      XENFLEET_STORE_COLD_TIER_REGION: "eu",
    });
    expect(keyFileOfStore({ ...env, XENFLEET_KEY_FILE: "/etc/xenfleet/all.key" }, "cold-tier")).toBe(
      "/etc/xenfleet/cold.key",
    );
    expect(keyFileOfStore({ ...env, XENFLEET_KEY_FILE: "/etc/xenfleet/all.key" }, "main")).toBe(
      "/etc/xenfleet/all.key",
    );
    expect(keyFileOfStore(env, "main")).toBeUndefined();
  });
});

/**
 * The compress job against a real image: a domain saved raw into a local
 * store, then compressed by the handler. Regression: the payload's zstd
 * level was ignored (every job compressed at the default level).
 */
import { cpSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Job } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { compressImage, parseImageId } from "@xenfleet/image";
import { createLogger, jobData } from "@xenfleet/jobs";
import { openStore } from "@xenfleet/store";
import { saveDomain } from "@xenfleet/transfer";
import { compressHandler, Stores } from "../../src/index.js";

const MiB = 2 ** 20;
const logger = createLogger({ service: "test", level: "silent" });

describe("compress handler", () => {
  let dir: string;
  let imageId: string;
  /** A fresh copy of the raw store: every compression starts from raw packs. */
  let copies = 0;
  const rawCopy = () => {
    const path = join(dir, `copy-${++copies}`);
    cpSync(join(dir, "raw"), path, { recursive: true });
    return pathToFileURL(path).href;
  };
  const viaHandler = async (level: number) => {
    const url = rawCopy();
    // A worker configured with that one store, named by the job.
    const stores = new Stores({ XENFLEET_STORES: `main=${url}` });
    const payload = jobData("compress", { store: "main", image: imageId, algorithm: "zstd", level });
    try {
      return await compressHandler(stores)(payload, { job: {} as Job, signal: new AbortController().signal, logger });
    } finally {
      await stores.close();
    }
  };
  const direct = async (zstdLevel: number) => {
    const store = await openStore(rawCopy(), {});
    try {
      return await compressImage(store, parseImageId(imageId), "zstd", { zstdLevel });
    } finally {
      await store.close();
    }
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "xenfleet-compress-"));
    const host = await SimHost.open(join(dir, "host"), { name: "h", totalMemoryBytes: 64 * MiB });
    const domain = await host.createDomain({ name: "vm", type: "hvm", memoryBytes: 4 * MiB, seed: 7 });
    const store = await openStore(pathToFileURL(join(dir, "raw")).href, {});
    try {
      imageId = (await saveDomain({ hypervisor: host, store, domain: domain.uuid, mode: "checkpoint" })).imageId;
    } finally {
      await store.close();
    }
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("compresses at the level the job asks for", async () => {
    const fast = await viaHandler(1);
    const small = await viaHandler(9);
    expect(fast.bytesIn).toBe(small.bytesIn);
    // The same packs at the same level come out byte for byte the same, so the sizes pin the level used.
    expect(fast.bytesOut).toBe((await direct(1)).bytesAfter);
    expect(small.bytesOut).toBe((await direct(9)).bytesAfter);
    expect(small.bytesOut).toBeLessThan(fast.bytesOut);
  });
});

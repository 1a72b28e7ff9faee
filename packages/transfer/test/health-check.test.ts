/**
 * Health checks on the sim: a good image's copy runs and reproduces the
 * state its save recorded; a broken image's copy fails with the reason; a
 * deadline that passes fails the check; and the copy is gone afterwards in
 * every case, while the original domain runs on untouched.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { keys, listImageRefs, loadBlock, loadManifest, type Sha256Id } from "@xenfleet/image";
import { LocalStore } from "@xenfleet/store";
import { healthCheck, saveDomain } from "../src/index.js";

const MiB = 2 ** 20;

describe("healthCheck", () => {
  let dir: string;
  let host: SimHost;
  let store: LocalStore;
  let original: string;
  let imageId: Sha256Id;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "xenfleet-health-"));
    host = await SimHost.open(join(dir, "h"), { name: "h", totalMemoryBytes: 64 * MiB });
    store = await LocalStore.open(join(dir, "store"));
    original = (await host.createDomain({ name: "web", type: "hvm", memoryBytes: 4 * MiB, dirtyPagesPerSec: 50 })).uuid;
    imageId = (await saveDomain({ hypervisor: host, store, domain: original, mode: "checkpoint" })).imageId as Sha256Id;
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** Only the original is left, running. */
  async function onlyTheOriginal() {
    expect((await host.listDomains()).map((d) => [d.uuid, d.state])).toEqual([[original, "running"]]);
  }

  it("passes on a good image, beside its running original, and destroys the copy", async () => {
    const r = await healthCheck({ hypervisor: host, store, host: "h", imageId, deadlineMs: 60_000 });
    expect(r).toMatchObject({ passed: true, digest: "matched" });
    expect(r.copy.uuid).not.toBe(original);
    expect(r.copy.name).toMatch(/^healthcheck-[0-9a-f]{8}$/);
    await onlyTheOriginal();
    // The copy leaves no mark in the store: no origin, no image.
    expect((await listImageRefs(store)).map((i) => i.id)).toEqual([imageId]);
    expect(await store.getRef(`origins/${r.copy.uuid}`)).toBeUndefined();
  });

  it("fails when the deadline passes first, and destroys the copy", async () => {
    const r = await healthCheck({ hypervisor: host, store, host: "h", imageId, deadlineMs: 0 });
    expect(r).toMatchObject({ passed: false, reason: expect.stringMatching(/deadline/) });
    await onlyTheOriginal();
  });

  it("fails on a broken image with the reason, and leaves no copy", async () => {
    const block = (await loadManifest(store, imageId)).blocks[0]!;
    const pack = keys.packKey((await loadBlock(store, imageId, block.id)).packs[0]!);
    const bytes = Buffer.from(await store.get(pack));
    bytes[16 + 4096 * 3 + 1]! ^= 0x20;
    await store.delete(pack);
    await store.put(pack, bytes);
    const r = await healthCheck({ hypervisor: host, store, host: "h", imageId, deadlineMs: 60_000 });
    expect(r).toMatchObject({ passed: false, reason: expect.stringMatching(/^restore failed: .*corrupt/i) });
    await onlyTheOriginal();
  });
});

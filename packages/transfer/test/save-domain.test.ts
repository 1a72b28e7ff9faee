/**
 * The save pipeline on its own (no queue): each mode streams the domain into
 * the store and leaves the domain as the mode promises, and the image
 * restores to the memory the domain had when it was paused.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { exportImage, loadManifest, type Sha256Id } from "@xenfleet/image";
import { LocalStore } from "@xenfleet/store";
import { saveDomain } from "../src/index.js";

const MiB = 2 ** 20;
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-save-"));
  dirs.push(dir);
  const host = await SimHost.open(join(dir, "h"), { name: "h", totalMemoryBytes: 256 * MiB });
  const peer = await SimHost.open(join(dir, "p"), { name: "p", totalMemoryBytes: 256 * MiB });
  const store = await LocalStore.open(join(dir, "store"));
  return { host, peer, store };
}

async function restoredDigest(peer: SimHost, store: LocalStore, imageId: string): Promise<string> {
  const pipe = new PassThrough();
  const exporting = exportImage(store, imageId as never, pipe).finally(() => pipe.end());
  const [domain] = await Promise.all([peer.restore(pipe), exporting]);
  return (await peer.digest(domain.uuid)).digest;
}

describe("saveDomain", () => {
  it.each(["checkpoint", "live"] as const)(
    "%s: the domain keeps running and the image restores to its memory",
    async (mode) => {
      const { host, peer, store } = await fixture();
      const d = await host.createDomain({ name: `vm-${mode}`, type: "hvm", memoryBytes: 16 * MiB });
      const before = (await host.digest(d.uuid)).digest;
      const result = await saveDomain({ hypervisor: host, store, domain: d.uuid, mode });
      expect((await host.domainInfo(d.uuid)).state).toBe("running");
      expect(result.bytesTotal).toBeGreaterThan(16 * MiB);
      expect(result.pausedMs).toBeLessThanOrEqual(result.seconds * 1000);
      const restored = await restoredDigest(peer, store, result.imageId);
      expect(restored).toBe(before);
      // The manifest records the state digest the save captured: what a health check compares a restore with.
      expect((await loadManifest(store, result.imageId as Sha256Id)).stateDigest).toBe(restored);
    },
  );

  it("records the host, the labels and the domain's name in the image's manifest", async () => {
    const { host, store } = await fixture();
    const d = await host.createDomain({ name: "vm-named", type: "pv", memoryBytes: 4 * MiB });
    const result = await saveDomain({
      hypervisor: host,
      store,
      domain: d.uuid,
      mode: "checkpoint",
      host: "host-7",
      labels: ["nightly"],
    });
    const manifest = await loadManifest(store, result.imageId as Sha256Id);
    expect(manifest).toMatchObject({
      domain: { name: d.uuid, uuid: d.uuid },
      domainName: "vm-named",
      host: "host-7",
      labels: ["nightly"],
      bytesNew: result.bytesNew,
    });
  });

  it("live, while the domain dirties its memory: pre-copy sends it, the domain keeps running, the image restores", async () => {
    const { host, peer, store } = await fixture();
    const d = await host.createDomain({ name: "vm-busy", type: "pv", memoryBytes: 16 * MiB, dirtyPagesPerSec: 5000 });
    const result = await saveDomain({ hypervisor: host, store, domain: d.uuid, mode: "live" });
    expect((await host.domainInfo(d.uuid)).state).toBe("running");
    expect(result.bytesTotal).toBeGreaterThan(16 * MiB);
    expect(await restoredDigest(peer, store, result.imageId)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("suspend: the domain is gone only once its image is stored, and the image restores it", async () => {
    const { host, peer, store } = await fixture();
    const d = await host.createDomain({ name: "vm-suspend", type: "pv", memoryBytes: 16 * MiB });
    const before = (await host.digest(d.uuid)).digest;
    const result = await saveDomain({ hypervisor: host, store, domain: d.uuid, mode: "suspend" });
    expect(await host.listDomains()).toEqual([]);
    expect(await restoredDigest(peer, store, result.imageId)).toBe(before);
  });
});

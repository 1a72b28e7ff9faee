/**
 * A restore retried after its worker died: the domain an earlier attempt
 * built is the job's own only if the job claimed the build; a running copy
 * is kept, a paused one (maybe half built) is rebuilt, and a domain nobody
 * claimed is refused, never touched.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DomainExistsError, SimHost } from "@xenfleet/hypervisor";
import { LocalStore } from "@xenfleet/store";
import { restoreImage, saveDomain, type BuildClaim } from "../src/index.js";

const MiB = 2 ** 20;
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A saved domain's image, and a second host to restore it on. */
async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-restore-"));
  dirs.push(dir);
  const source = await SimHost.open(join(dir, "a"), { name: "a", totalMemoryBytes: 64 * MiB });
  const target = await SimHost.open(join(dir, "b"), { name: "b", totalMemoryBytes: 64 * MiB });
  const store = await LocalStore.open(join(dir, "store"));
  const d = await source.createDomain({ name: "vm", type: "pv", memoryBytes: 16 * MiB });
  const digest = (await source.digest(d.uuid)).digest;
  const { imageId } = await saveDomain({ hypervisor: source, store, domain: d.uuid, mode: "checkpoint" });
  return { target, store, imageId, uuid: d.uuid, digest };
}

/** A claim as a job's progress holds it: it outlives the attempt. */
function memoryClaim(): BuildClaim & { made: number } {
  const claim = {
    made: 0,
    claimed: async () => claim.made > 0,
    claim: async () => void claim.made++,
  };
  return claim;
}

describe("restoreImage retried", () => {
  it("claims the build before building, and keeps the running copy an earlier attempt built", async () => {
    const { target, store, imageId, uuid, digest } = await fixture();
    const claim = memoryClaim();
    const first = await restoreImage({ hypervisor: target, store, host: "b", imageId, claim });
    expect(claim.made).toBe(1);
    expect(first.adopted).toBe(false);
    // The worker died before the job was marked done; the retry runs.
    const retry = await restoreImage({ hypervisor: target, store, host: "b", imageId, claim });
    expect(retry.adopted).toBe(true);
    expect(retry.domain.domid).toBe(first.domain.domid);
    const copies = (await target.listDomains()).filter((d) => d.uuid === uuid);
    expect(copies.map((d) => d.state)).toEqual(["running"]);
    expect((await target.digest(uuid)).digest).toBe(digest);
  });

  it("rebuilds a paused copy an earlier attempt left", async () => {
    const { target, store, imageId, uuid, digest } = await fixture();
    const claim = memoryClaim();
    const first = await restoreImage({ hypervisor: target, store, host: "b", imageId, claim, paused: true });
    const retry = await restoreImage({ hypervisor: target, store, host: "b", imageId, claim, paused: true });
    expect(retry.adopted).toBe(false);
    expect(retry.domain.domid).not.toBe(first.domain.domid);
    const copies = (await target.listDomains()).filter((d) => d.uuid === uuid);
    expect(copies.map((d) => d.state)).toEqual(["paused"]);
    expect((await target.digest(uuid)).digest).toBe(digest);
  });

  it("refuses a domain with the image's uuid that the job never claimed, and leaves it alone", async () => {
    const { target, store, imageId, uuid } = await fixture();
    const other = await restoreImage({ hypervisor: target, store, host: "b", imageId });
    await expect(
      restoreImage({ hypervisor: target, store, host: "b", imageId, claim: memoryClaim() }),
    ).rejects.toBeInstanceOf(DomainExistsError);
    const copies = (await target.listDomains()).filter((d) => d.uuid === uuid);
    expect(copies.map((d) => d.domid)).toEqual([other.domain.domid]);
  });
});

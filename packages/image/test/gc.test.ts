import type { ObjectStore } from "@xenfleet/store";
import { afterAll, describe, expect, it } from "vitest";
import {
  StoreLockedError,
  acquireLock,
  compressImage,
  exportImage,
  gc,
  imageRefLabels,
  importImage,
  keys,
  listImageRefs,
  listLocks,
  protectedImages,
  protectImage,
  prune,
  removeImage,
  selectKept,
  isoWeek,
  unprotectImage,
  type ImageRef,
  type Sha256Id,
} from "../src/index.js";
import { BACKENDS, cleanupAll, exportToBuffer, localStore, mutatePages, sampleStream, textPages } from "./helpers.js";

afterAll(cleanupAll);

async function countKeys(store: ObjectStore, prefix: string): Promise<number> {
  let n = 0;
  for await (const _ of store.list(prefix)) n++;
  return n;
}

describe.each(BACKENDS)("gc on %s", (_name, open) => {
  it("reclaims a removed image's data and keeps what the remaining image shares with it", async () => {
    const store = await open();
    const night0 = await sampleStream({ domainType: "x86-hvm", pages: 3000, seed: 21 });
    const { stream: night1 } = await mutatePages(night0, 0.1, 5);
    const a = await importImage(store, [night0], { domain: "vm", created: new Date("2025-01-01T00:00:00Z") });
    const b = await importImage(store, [night1], { domain: "vm", created: new Date("2025-01-02T00:00:00Z") });

    // Within the grace period nothing goes, even unreferenced.
    await removeImage(store, a.imageId);
    const young = await gc(store);
    expect(young.deleted).toMatchObject({ manifests: 0, blocks: 0, packs: 0 });

    const result = await gc(store, { graceMs: 0 });
    expect(result.deleted.manifests).toBe(1);
    expect(result.bytesFreed).toBeGreaterThan(0);
    expect(result.missing).toEqual([]);
    expect(await store.head(keys.manifestKey(a.imageId))).toBeUndefined();
    expect((await exportToBuffer(store, b.imageId)).equals(night1)).toBe(true);

    await removeImage(store, b.imageId);
    await gc(store, { graceMs: 0 });
    for (const prefix of ["manifests/", "blocks/", "packs/", "hooks/", "forwards/", "locks/"])
      expect(await countKeys(store, prefix)).toBe(0);
    await store.close();
  });

  it("refuses to sweep while an import holds its lock, and ignores and removes a stale lock", async () => {
    const store = await open();
    const held = await acquireLock(store, "shared", { purpose: "import of test" });
    await expect(gc(store, { graceMs: 0 })).rejects.toBeInstanceOf(StoreLockedError);
    await held.release();
    // A lock whose holder died long ago.
    await store.put(
      "locks/shared-deadbeefdeadbeef-0",
      Buffer.from(
        JSON.stringify({ kind: "shared", owner: "gone:1", purpose: "import", refreshed: Date.now() - 2 * 3600_000 }),
      ),
    );
    const result = await gc(store, { graceMs: 0 });
    expect(result.deleted.locks).toBe(1);
    expect(await listLocks(store)).toEqual([]);
    await store.close();
  });

  it("an import waits for a running sweep's exclusive lock rather than overlapping it", async () => {
    const store = await open();
    const exclusive = await acquireLock(store, "exclusive", { purpose: "gc" });
    const stream = await sampleStream({ domainType: "x86-pv", pages: 100, seed: 2 });
    await expect(importImage(store, [stream], { domain: "x", lock: { waitMs: 0 } })).rejects.toBeInstanceOf(
      StoreLockedError,
    );
    const waiting = importImage(store, [stream], { domain: "x", lock: { waitMs: 30_000 } });
    await new Promise((r) => setTimeout(r, 300));
    expect(await listImageRefs(store, "x")).toEqual([]);
    await exclusive.release();
    const { imageId } = await waiting;
    expect((await listImageRefs(store, "x")).map((r) => r.id)).toEqual([imageId]);
    await store.close();
  });
});

describe("gc racing imports", () => {
  it("loses nothing: clones dedup against a template whose own image is removed while sweeps run", async () => {
    const store = await localStore();
    const template = await sampleStream({ domainType: "x86-hvm", pages: 3000, seed: 31 });
    const clones = await Promise.all([0, 1, 2, 3, 4, 5].map((c) => mutatePages(template, 0.03, 40 + c)));
    const base = await importImage(store, [template], { domain: "template" });
    await removeImage(store, base.imageId); // the template's data is now garbage, unless a clone takes it over

    let sweeping = true;
    let sweeps = 0;
    const sweeper = (async () => {
      while (sweeping) {
        try {
          await gc(store, { graceMs: 0 });
          sweeps++;
        } catch (err) {
          if (!(err instanceof StoreLockedError)) throw err;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const imported: Array<{ id: Sha256Id; stream: Buffer }> = [];
    for (let c = 0; c < clones.length; c++) {
      const r = await importImage(store, [clones[c]!.stream], { domain: `clone-${c}`, lock: { waitMs: 60_000 } });
      imported.push({ id: r.imageId, stream: clones[c]!.stream });
    }
    sweeping = false;
    await sweeper;
    await gc(store, { graceMs: 0 });
    expect(sweeps).toBeGreaterThan(0);
    for (const { id, stream } of imported) expect((await exportToBuffer(store, id)).equals(stream)).toBe(true);
    // Imports squeeze in between sweeps that run back to back: slow by design.
  }, 240_000);
});

describe("compression rewrite", () => {
  it.each(BACKENDS)(
    "runs on %s while exports run, then gc drops the old packs, with no export failing",
    async (_name, open) => {
      const store = await open();
      const streams = [
        await textPages(await sampleStream({ domainType: "x86-hvm", pages: 2500, seed: 51 })),
        await textPages(await sampleStream({ domainType: "x86-pv", pages: 1500, seed: 52 }), " (pv)"),
      ];
      const ids: Sha256Id[] = [];
      for (const [i, s] of streams.entries()) ids.push((await importImage(store, [s], { domain: `c${i}` })).imageId);
      const packsBefore = await countKeys(store, "packs/");

      let running = true;
      let exports = 0;
      const exporter = async (i: number) => {
        while (running) {
          const chunks: Buffer[] = [];
          await exportImage(store, ids[i]!, (c) => void chunks.push(Buffer.from(c)), { prefetchBlocks: 1 });
          expect(Buffer.concat(chunks).equals(streams[i]!)).toBe(true);
          exports++;
        }
      };
      const exporting = Promise.all([exporter(0), exporter(1), exporter(0)]);
      try {
        // Two compress workers on the same image at once, and once more: idempotent.
        const results = await Promise.all([
          compressImage(store, ids[0]!, "zstd"),
          compressImage(store, ids[0]!, "zstd"),
          compressImage(store, ids[1]!, "lz4"),
        ]);
        expect(results[0]!.bytesAfter).toBeLessThan(results[0]!.bytesBefore / 4);
        expect(results[2]!.bytesAfter).toBeLessThan(results[2]!.bytesBefore / 4);
        const again = await compressImage(store, ids[0]!, "zstd");
        expect(again.rewritten).toBe(0);
        await gc(store, { graceMs: 0 });
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        running = false;
        await exporting;
      }
      expect(exports).toBeGreaterThan(2);
      // Old packs were replaced: as many packs as before, all compressed now, and exports still byte-identical.
      expect(await countKeys(store, "packs/")).toBe(packsBefore);
      expect(await countKeys(store, "forwards/")).toBe(packsBefore);
      for (const [i, id] of ids.entries()) expect((await exportToBuffer(store, id)).equals(streams[i]!)).toBe(true);
      await store.close();
    },
  );
});

describe("retention", () => {
  const ref = (iso: string, n: number): ImageRef => ({
    domain: "d",
    id: String(n).padStart(64, "0") as Sha256Id,
    created: new Date(iso),
    name: `x${n}`,
  });
  const refs = [
    ref("2025-01-01T02:00:00Z", 1), // Wed, week 1
    ref("2025-01-02T02:00:00Z", 2),
    ref("2025-01-02T14:00:00Z", 3), // second of the day
    ref("2025-01-06T02:00:00Z", 4), // Mon, week 2
    ref("2025-01-08T02:00:00Z", 5),
    ref("2025-01-13T02:00:00Z", 6), // week 3
    ref("2025-01-14T02:00:00Z", 7),
  ];
  const kept = (policy: Parameters<typeof selectKept>[1]) =>
    [...selectKept(refs, policy)].map((r) => Number(r.id)).sort((a, b) => a - b);

  it("keeps the last N, the newest of each of N days, the newest of each of N ISO weeks", () => {
    expect(kept({ keepLast: 2 })).toEqual([6, 7]);
    expect(kept({ keepDaily: 3 })).toEqual([5, 6, 7]);
    expect(kept({ keepDaily: 6 })).toEqual([1, 3, 4, 5, 6, 7]);
    expect(kept({ keepWeekly: 3 })).toEqual([3, 5, 7]);
    expect(kept({ keepLast: 1, keepWeekly: 2 })).toEqual([5, 7]);
    expect(isoWeek(new Date("2025-01-01T00:00:00Z"))).toBe("2025-W01");
    expect(isoWeek(new Date("2024-12-30T00:00:00Z"))).toBe("2025-W01");
    expect(isoWeek(new Date("2021-01-03T00:00:00Z"))).toBe("2020-W53");
  });

  it("prune removes the refs the policy does not keep, per domain, and refuses a policy keeping nothing", async () => {
    const store = await localStore();
    const stream = await sampleStream({ domainType: "x86-pv", pages: 64, seed: 1 });
    for (const domain of ["a", "b"])
      for (let day = 1; day <= 4; day++)
        await importImage(store, [stream], { domain, created: new Date(Date.UTC(2025, 0, day, 2)) });
    await expect(prune(store, {})).rejects.toThrow(/keeps something/);
    const dry = await prune(store, { keepLast: 1, domain: "a", dryRun: true });
    expect(dry.removed).toHaveLength(3);
    expect(await listImageRefs(store, "a")).toHaveLength(4);
    const result = await prune(store, { keepLast: 1, keepDaily: 2 });
    expect(result.removed).toHaveLength(4);
    expect((await listImageRefs(store, "a")).map((r) => r.created.getUTCDate())).toEqual([3, 4]);
    expect((await listImageRefs(store, "b")).map((r) => r.created.getUTCDate())).toEqual([3, 4]);
  });

  it("prune with a label counts and removes only that label's images; a protected image is never removed", async () => {
    const store = await localStore();
    const stream = await sampleStream({ domainType: "x86-pv", pages: 64, seed: 3 });
    const at = (day: number) => new Date(Date.UTC(2025, 0, day, 2));
    const nightly: Sha256Id[] = [];
    for (let day = 1; day <= 4; day++)
      nightly.push(
        (await importImage(store, [stream], { domain: "a", created: at(day), labels: ["nightly"] })).imageId,
      );
    // A manual save before an upgrade, between two nightlies.
    const manual = await importImage(store, [stream], { domain: "a", created: at(2), labels: ["pre-upgrade"] });
    await expect(protectImage(store, "0".repeat(64) as Sha256Id)).rejects.toThrow(/not found/);

    const byLabel = await prune(store, { keepLast: 2, label: "nightly" });
    expect(byLabel.removed.map((r) => r.id).sort()).toEqual([nightly[0], nightly[1]].sort());
    expect((await listImageRefs(store, "a")).map((r) => r.id).sort()).toEqual(
      [nightly[2], nightly[3], manual.imageId].sort(),
    );

    // Unlabelled, the manual save counts like any image, unless it is protected.
    await protectImage(store, manual.imageId);
    expect((await protectedImages(store)).has(manual.imageId)).toBe(true);
    const all = await prune(store, { keepLast: 1 });
    expect(all.removed.map((r) => r.id)).toEqual([nightly[2]]);
    expect(all.protected.map((r) => r.id)).toEqual([manual.imageId]);
    await expect(removeImage(store, manual.imageId)).rejects.toThrow(/is protected/);
    expect(await unprotectImage(store, manual.imageId)).toBe(true);
    expect(await unprotectImage(store, manual.imageId)).toBe(false);
    expect((await prune(store, { keepLast: 1 })).removed.map((r) => r.id)).toEqual([manual.imageId]);
  });

  it("reads the labels of an image whose ref records none from its manifest", async () => {
    const store = await localStore();
    const stream = await sampleStream({ domainType: "x86-pv", pages: 64, seed: 4 });
    const old = await importImage(store, [stream], {
      domain: "a",
      created: new Date(Date.UTC(2025, 0, 1)),
      labels: ["nightly"],
    });
    // A ref as written before refs carried labels.
    const [ref] = await listImageRefs(store, "a");
    await store.putRef(ref!.name, Buffer.from(JSON.stringify({ domain: "a", id: old.imageId })));
    expect(await imageRefLabels(store, ref!)).toBeUndefined();
    await importImage(store, [stream], { domain: "a", created: new Date(Date.UTC(2025, 0, 2)), labels: ["nightly"] });
    expect((await prune(store, { keepLast: 1, label: "nightly" })).removed.map((r) => r.id)).toEqual([old.imageId]);
  });
});

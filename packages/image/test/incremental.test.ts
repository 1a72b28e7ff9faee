import { afterAll, describe, expect, it } from "vitest";
import { importImage, listImages } from "../src/index.js";
import { BACKENDS, cleanupAll, exportToBuffer, localStore, mutatePages, sampleStream } from "./helpers.js";

afterAll(cleanupAll);

const PAGE = 4096;

describe.each(BACKENDS)("dedup on %s", (_name, open) => {
  it("a second night with 5% of pages changed stores about 5% new bytes, and both nights export byte for byte", async () => {
    const store = await open();
    const pages = 12_000; // 12 blocks: more blocks than are stored at once, with too few new pages to fill a pack (the stall this once caused)
    const night0 = await sampleStream({ domainType: "x86-hvm", pages, seed: 3 });
    const first = await importImage(store, [night0], { domain: "db", created: new Date("2025-01-01T02:00:00Z") });
    const dataPages = first.pages - first.zeroPages;
    expect(first.bytesNew).toBeGreaterThan(dataPages * PAGE);
    expect(first.bytesNew).toBeLessThan(dataPages * PAGE * 1.1);

    const { stream: night1, changed } = await mutatePages(night0, 0.05, 11);
    const second = await importImage(store, [night1], { domain: "db", created: new Date("2025-01-02T02:00:00Z") });
    expect(second.parent).toBe(first.imageId);
    expect(second.dedupPages).toBeGreaterThanOrEqual(dataPages - changed);
    // New page bytes plus page list blocks and pack indexes: at most 1.6x the changed pages, never near the whole image.
    expect(second.bytesNew).toBeGreaterThanOrEqual(changed * PAGE);
    expect(second.bytesNew).toBeLessThan(changed * PAGE * 1.6);
    expect(second.bytesNew).toBeLessThan(first.bytesNew * 0.1);

    expect((await exportToBuffer(store, first.imageId)).equals(night0)).toBe(true);
    expect((await exportToBuffer(store, second.imageId)).equals(night1)).toBe(true);
    expect((await listImages(store, { domain: "db" })).map((i) => i.id)).toEqual([first.imageId, second.imageId]);
    await store.close();
  });

  it("clones of one template dedup across domains through the hook index (no parent)", async () => {
    const store = await open();
    const template = await sampleStream({ domainType: "x86-pv", pages: 6000, seed: 5 });
    const base = await importImage(store, [template], { domain: "template" });
    const dataPages = base.pages - base.zeroPages;
    for (let c = 0; c < 3; c++) {
      const { stream: clone, changed } = await mutatePages(template, 0.02, 100 + c);
      const r = await importImage(store, [clone], { domain: `clone-${c}` });
      expect(r.parent).toBeNull();
      expect(r.dedupPages).toBeGreaterThan((dataPages - changed) * 0.9);
      expect(r.bytesNew).toBeLessThan(base.bytesNew * 0.2);
      expect((await exportToBuffer(store, r.imageId)).equals(clone)).toBe(true);
    }
    await store.close();
  });

  it("pages repeated within one image are stored once, and zero pages cost nothing", async () => {
    const store = await open();
    const stream = await sampleStream({ domainType: "x86-hvm", pages: 2048, seed: 8 });
    const first = await importImage(store, [stream], { domain: "a" });
    // The same stream under another domain: nothing new but the page lists' manifest.
    const again = await importImage(store, [stream], { domain: "b" });
    expect(again.dedupPages).toBe(first.pages - first.zeroPages);
    expect(again.bytesNew).toBeLessThan(4096);
    expect(again.packsCreated).toBe(0);
    await store.close();
  });
});

describe("the hook index on a nightly import", () => {
  it("is asked about the changed pages only, and less often once it has nothing to offer", async () => {
    const store = await localStore();
    const night0 = await sampleStream({ domainType: "x86-hvm", pages: 8192, seed: 21 });
    await importImage(store, [night0], { domain: "web", created: new Date("2025-01-01T02:00:00Z") });
    // A quarter of the pages rewritten with bytes no image holds: every segment
    // misses the parent often enough to consult the index, and it never helps.
    const { stream: night1, changed } = await mutatePages(night0, 0.25, 7);
    const listed: string[] = [];
    const list = store.list.bind(store);
    store.list = (prefix: string) => {
      if (prefix.startsWith("hooks/")) listed.push(prefix);
      return list(prefix);
    };
    const second = await importImage(store, [night1], { domain: "web", created: new Date("2025-01-02T02:00:00Z") });
    expect(second.dedupPages).toBeGreaterThanOrEqual(second.pages - second.zeroPages - changed);
    // Asking about every page of such segments listed 231 prefixes here; the
    // changed pages alone hold about changed / 32 sampled hooks, and backing
    // off after fruitless consults asks about fewer still.
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.length).toBeLessThan(changed / 32);
    await store.close();
  });
});

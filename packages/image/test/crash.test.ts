import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { getContent, packKey, type ObjectStore } from "@xenfleet/store";
import { afterAll, describe, expect, it } from "vitest";
import { forwardKey } from "../src/keys.js";
import { importImage, listImageRefs, pageListFormat, type Sha256Id } from "../src/index.js";
import { cleanupAll, exportToBuffer, localStore, sampleStream, tempDir } from "./helpers.js";

afterAll(cleanupAll);

const CHILD = join(import.meta.dirname, "fixtures/import-child.ts");

/** Runs the import in a child process and SIGKILLs it after `killAfter` progress reports; resolves with whether it finished first. */
function importAndKill(root: string, file: string, killAfter: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", CHILD, root, file, "crashy"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let seen = 0;
    let finished = false;
    if (killAfter === 0) child.kill("SIGKILL");
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.startsWith("done")) finished = true;
      else if (++seen === killAfter) child.kill("SIGKILL");
    });
    child.on("error", reject);
    child.on("exit", () => resolve(finished));
  });
}

/** What must hold whatever point an import died at: every block present names only packs present. */
async function assertConsistent(store: ObjectStore): Promise<void> {
  for await (const e of store.list("blocks/")) {
    const id = e.key.slice(e.key.lastIndexOf("/") + 1) as Sha256Id;
    const block = pageListFormat.decodeBlock(e.key, await getContent(store, "blocks", id));
    for (const p of block.packs)
      expect((await store.head(packKey(p))) ?? (await store.head(forwardKey(p)))).toBeDefined();
  }
}

describe("an import killed at random points", () => {
  it("leaves no visible image, keeps the store consistent, and a retry completes reusing what was written", async () => {
    const dir = await tempDir();
    const file = join(dir, "stream.xl");
    const stream = await sampleStream({ domainType: "x86-hvm", pages: 3000, seed: 77, batchSize: 50 });
    await writeFile(file, stream);

    const reference = await localStore();
    const fresh = await importImage(reference, file, { domain: "crashy", packBytes: 128 * 1024 });

    const store = await localStore();
    // A seeded spread of kill points over the ~60 records: at spawn, early, middle, late.
    let x = 12345;
    const points = [0, ...Array.from({ length: 5 }, () => 1 + ((x = (x * 1103515245 + 12345) & 0x7fffffff) % 60))];
    for (const killAfter of points) {
      const finished = await importAndKill(store.root, file, killAfter);
      if (finished) break; // killed too late: it committed, which is also a legal outcome
      expect(await listImageRefs(store)).toEqual([]);
      let manifests = 0;
      for await (const _ of store.list("manifests/")) manifests++;
      // A manifest may exist only if the kill fell between it and the ref; it is invisible without the ref.
      expect(manifests).toBeLessThanOrEqual(1);
      await assertConsistent(store);
    }
    let packsBefore = 0;
    for await (const _ of store.list("packs/")) packsBefore++;

    const retry = await importImage(store, file, { domain: "crashy", packBytes: 128 * 1024 });
    expect((await exportToBuffer(store, retry.imageId)).equals(stream)).toBe(true);
    expect((await listImageRefs(store, "crashy")).map((r) => r.id)).toContain(retry.imageId);
    expect(packsBefore).toBeGreaterThan(0);
    expect(retry.bytesNew).toBeLessThan(fresh.bytesNew);
    expect(retry.packsReused + retry.dedupPages).toBeGreaterThan(0);
    await assertConsistent(store);
  });
});

describe("an import that fails mid-stream", () => {
  it("reports the failure only once nothing it started is still being stored", async () => {
    const store = await localStore();
    const stream = await sampleStream({ domainType: "x86-hvm", pages: 12_000, seed: 31 });
    // Cut inside a late PAGE_DATA record: earlier records' packs and blocks are being stored when the stream fails.
    const truncated = stream.subarray(0, Math.floor(stream.length * 0.8));
    let failedAt = Number.POSITIVE_INFINITY;
    const putsStartedAfter: string[] = [];
    const put = store.put.bind(store);
    store.put = async (key, data, options) => {
      if (performance.now() > failedAt) putsStartedAfter.push(key);
      // Slow pack stores keep blocks waiting for their packs when the stream fails.
      if (key.startsWith("packs/")) await new Promise((resolve) => setTimeout(resolve, 100));
      return put(key, data, options);
    };
    await expect(
      importImage(store, [truncated], { domain: "cut", packBytes: 64 * 1024 }).finally(
        () => (failedAt = performance.now()),
      ),
    ).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(putsStartedAfter).toEqual([]);
    expect(await listImageRefs(store, "cut")).toEqual([]);
    await store.close();
  });
});

/**
 * Images written by earlier versions stay readable: the store under
 * fixtures/v1-store was written by the code of manifest version 1 (whole-
 * stream SHA-256, uncompressed and compressed packs, forwards, an
 * incremental image) and is never rewritten. Each of its images must
 * still export to exactly the stream it was made from, verify, and serve as
 * the parent of a new import.
 */
import { createHash } from "node:crypto";
import { cp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { LocalStore } from "@xenfleet/store";
import { afterAll, describe, expect, it } from "vitest";
import { importImage, loadManifest, verifyImage, type Sha256Id } from "../src/index.js";
import type { OldImage } from "./fixtures/old-images.js";
import { cleanupAll, exportToBuffer, mutatePages, sampleStream, tempDir } from "./helpers.js";

type Made = OldImage & { imageId: Sha256Id; streamBytes: number; sha256: string };

const FIXTURES = join(import.meta.dirname, "fixtures");

afterAll(cleanupAll);

/** A private copy of the fixture store: opening or writing a store must never change the fixture. */
async function fixtureStore(): Promise<LocalStore> {
  const root = join(await tempDir(), "store");
  await cp(join(FIXTURES, "v1-store"), root, { recursive: true });
  return LocalStore.open(root);
}

const made = JSON.parse(await readFile(join(FIXTURES, "v1-store.json"), "utf8")) as Made[];

describe("images of manifest version 1", () => {
  it.each(made.map((m) => [m.imageId.slice(0, 12), m] as const))(
    "%s exports byte for byte the stream it was made from, and verifies",
    async (_, image) => {
      const store = await fixtureStore();
      try {
        const stream = await sampleStream(image.sample);
        expect(createHash("sha256").update(stream).digest("hex")).toBe(image.sha256);
        const manifest = await loadManifest(store, image.imageId);
        expect(manifest.streamBytes).toBe(image.streamBytes);
        const exported = await exportToBuffer(store, image.imageId);
        expect(exported.equals(stream)).toBe(true);
        const verified = await verifyImage(store, image.imageId);
        expect(verified.bytes).toBe(image.streamBytes);
      } finally {
        await store.close();
      }
    },
  );

  it("serves as the parent of a new import, which exports byte for byte", async () => {
    const store = await fixtureStore();
    try {
      const last = made.filter((m) => m.domain === "hvm-a").at(-1)!;
      const { stream } = await mutatePages(await sampleStream(last.sample), 0.1, 5);
      const r = await importImage(store, [stream], { domain: "hvm-a" });
      expect(r.parent).toBe(last.imageId);
      expect(r.dedupPages).toBeGreaterThan(r.pages / 2);
      expect((await exportToBuffer(store, r.imageId)).equals(stream)).toBe(true);
      await verifyImage(store, r.imageId);
    } finally {
      await store.close();
    }
  });
});

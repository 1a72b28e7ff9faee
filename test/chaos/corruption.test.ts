/**
 * Objects corrupted on disk after they were written: a flipped byte in a
 * pack, a block, a manifest, a truncated pack. Every read of the image
 * (export, restore onto a host, compression) fails with an error naming the
 * corrupt object; nothing is restored silently, no domain appears, and the
 * compressor does not copy the damage into a fresh pack.
 */
import { createHash } from "node:crypto";
import { readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { restoreImage } from "@xenfleet/transfer";
import { SimHost } from "@xenfleet/hypervisor";
import {
  compressImage,
  exportImage,
  importImage,
  loadBlock,
  loadManifest,
  parseImageId,
  verifyImage,
  type Sha256Id,
} from "@xenfleet/image";
import { LocalStore } from "@xenfleet/store";
import { checkCorruptionNamed, checkRefsExport } from "./invariants.js";
import { tempDir } from "./procs.js";

const MiB = 2 ** 20;

let dir: string;
let store: LocalStore;
let source: SimHost;
let imageId: Sha256Id;
let original: { uuid: string; digest: string };

beforeEach(async () => {
  dir = tempDir();
  store = await LocalStore.open(join(dir, "store"));
  source = await SimHost.open(join(dir, "src"), { name: "src", totalMemoryBytes: 64 * MiB });
  const d = await source.createDomain({ name: "victim", type: "hvm", memoryBytes: 4 * MiB });
  original = { uuid: d.uuid, digest: (await source.digest(d.uuid)).digest };
  // Save straight into an image, as the save worker does.
  const pipe = new PassThrough();
  const [, imported] = await Promise.all([
    source.save(d.uuid, pipe, { mode: "checkpoint" }),
    importImage(store, pipe, { domain: d.uuid, uuid: d.uuid, parent: null }),
  ]);
  imageId = parseImageId(imported.imageId);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The store keys of the image's objects, by kind. */
async function objectsOf(id: Sha256Id): Promise<{ manifest: string; blocks: string[]; packs: string[] }> {
  const manifest = await loadManifest(store, id);
  const blocks: string[] = [];
  const packs = new Set<string>();
  for (const ref of manifest.blocks) {
    blocks.push(`blocks/${ref.id.slice(0, 2)}/${ref.id}`);
    for (const p of (await loadBlock(store, id, ref.id)).packs) packs.add(`packs/${p.slice(0, 2)}/${p}`);
  }
  return { manifest: `manifests/${id.slice(0, 2)}/${id}`, blocks, packs: [...packs] };
}

async function flipByte(key: string, where: "middle" | "start" | "end" = "middle"): Promise<void> {
  const path = join(dir, "store", ...key.split("/"));
  const bytes = await readFile(path);
  const at = where === "start" ? 0 : where === "end" ? bytes.length - 1 : Math.floor(bytes.length / 2);
  bytes[at] = bytes[at]! ^ 0x5a;
  await writeFile(path, bytes);
}

/** Export, verify and restore; each must fail naming `key`; no domain may appear on the target. */
async function expectEveryReadRefuses(key: string): Promise<string[]> {
  const violations: string[] = [];
  const hash = createHash("sha256");
  const exported = await exportImage(store, imageId, (chunk) => void hash.update(chunk)).then(
    () => undefined,
    (e: unknown) => e,
  );
  violations.push(...checkCorruptionNamed(exported, key).map((v) => `export: ${v}`));
  const verified = await verifyImage(store, imageId).then(
    () => undefined,
    (e: unknown) => e,
  );
  violations.push(...checkCorruptionNamed(verified, key).map((v) => `verify: ${v}`));
  const target = await SimHost.open(join(dir, "dst"), { name: "dst", totalMemoryBytes: 64 * MiB });
  const restored = await restoreImage({ hypervisor: target, store, host: "dst", imageId }).then(
    () => undefined,
    (e: unknown) => e,
  );
  violations.push(...checkCorruptionNamed(restored, key).map((v) => `restore: ${v}`));
  const domains = await target.listDomains();
  if (domains.length > 0) violations.push(`restore of a corrupt image left ${domains.length} domain(s) on the target`);
  return violations;
}

describe("corruption on disk is reported by name, never restored silently", () => {
  it("the image is sound before anything is corrupted", async () => {
    expect((await checkRefsExport(store)).violations).toEqual([]);
    const target = await SimHost.open(join(dir, "dst"), { name: "dst", totalMemoryBytes: 64 * MiB });
    const { domain } = await restoreImage({ hypervisor: target, store, host: "dst", imageId });
    expect((await target.digest(domain.uuid)).digest).toBe(original.digest);
  });

  it("a flipped byte in a pack", async () => {
    const { packs } = await objectsOf(imageId);
    await flipByte(packs[0]!);
    expect(await expectEveryReadRefuses(packs[0]!)).toEqual([]);
  });

  it("a truncated pack", async () => {
    const { packs } = await objectsOf(imageId);
    const path = join(dir, "store", ...packs[0]!.split("/"));
    await truncate(path, Math.floor((await readFile(path)).length / 2));
    expect(await expectEveryReadRefuses(packs[0]!)).toEqual([]);
  });

  it("a flipped byte in a page-list block", async () => {
    const { blocks } = await objectsOf(imageId);
    await flipByte(blocks[0]!);
    expect(await expectEveryReadRefuses(blocks[0]!)).toEqual([]);
  });

  it("a flipped byte in the manifest", async () => {
    const { manifest } = await objectsOf(imageId);
    await flipByte(manifest);
    expect(await expectEveryReadRefuses(manifest)).toEqual([]);
  });

  it("compressing an image with a corrupt pack refuses, naming it, and writes no pack from it", async () => {
    const { packs } = await objectsOf(imageId);
    await flipByte(packs[0]!);
    const error = await compressImage(store, imageId, "zstd").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(checkCorruptionNamed(error, packs[0]!)).toEqual([]);
    // No forward points readers from the damaged pack to a rewritten copy of it.
    const forwards: string[] = [];
    for await (const e of store.list("forwards/")) forwards.push(e.key);
    expect(forwards.some((k) => k.endsWith(packs[0]!.slice(packs[0]!.lastIndexOf("/") + 1)))).toBe(false);
  });
});

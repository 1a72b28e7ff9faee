/**
 * Legacy (pre-v2) images go into the store as v2: importAnyImage tells them
 * from v2 streams by their first bytes, converts on the fly, and the manifest
 * records the legacy source and its toolstack width. Export gives the v2
 * stream the converter writes, byte for byte.
 */
import { afterAll, describe, expect, it } from "vitest";
import { convertLegacyStream, writeLegacyStream, type LegacyImageOptions } from "@xenfleet/format/legacy";
import { importAnyImage, loadManifest } from "../src/index.js";
import { cleanupAll, exportToBuffer, localStore, sampleStream, xenVerify } from "./helpers.js";

afterAll(cleanupAll);

async function converted(input: Uint8Array): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await convertLegacyStream(input, (c) => void chunks.push(Buffer.from(c)));
  return Buffer.concat(chunks);
}

const CASES: Array<[string, LegacyImageOptions]> = [
  ["bare PV, 64-bit toolstack", { width: 64, guest: "pv", pages: 300, seed: 3 }],
  ["bare PV 32-bit guest, 32-bit toolstack", { width: 32, guest: "pv", guestWidth: 4, pages: 200, seed: 4 }],
  [
    "xl-wrapped HVM, 64-bit toolstack",
    { width: 64, guest: "hvm", pages: 250, seed: 5, xl: { config: { c_info: { name: "old-hvm" } } } },
  ],
  // Its v2 form is a libxc stream with the qemu record after END, as Xen's converter writes it.
  ["bare HVM, 64-bit toolstack", { width: 64, guest: "hvm", pages: 120, seed: 6 }],
  ["bare HVM, 32-bit toolstack", { width: 32, guest: "hvm", pages: 40, seed: 8 }],
];

describe("legacy images are stored as v2", () => {
  it.each(CASES)("%s: exports the converter's v2 stream, manifest records the width", async (_name, options) => {
    const store = await localStore();
    const legacy = writeLegacyStream(options);
    const expected = await converted(legacy);
    const result = await importAnyImage(store, [legacy.subarray(0, 1000), legacy.subarray(1000)], {
      domain: "old",
      parent: null,
    });
    expect(result.width).toBe(options.width);
    const manifest = await loadManifest(store, result.imageId);
    expect(manifest.source).toEqual({ kind: "legacy", width: options.width });
    const exported = await exportToBuffer(store, result.imageId);
    expect(exported.equals(expected)).toBe(true);
    expect(await xenVerify(exported, options.xl ? "xl" : "libxc")).toBeUndefined();
  });

  it("a v2 stream goes through unchanged and is recorded as v2", async () => {
    const store = await localStore();
    const stream = await sampleStream({ domainType: "x86-pv", pages: 64, layers: "xl", seed: 9 });
    const result = await importAnyImage(store, stream, { domain: "new", parent: null });
    expect(result.width).toBeUndefined();
    expect((await loadManifest(store, result.imageId)).source).toEqual({ kind: "v2" });
    expect((await exportToBuffer(store, result.imageId)).equals(stream)).toBe(true);
  });
});

import { afterAll, describe, expect, it } from "vitest";
import { readStream } from "@xenfleet/format";
import { exportImage, importImage, listImages, verifyImage } from "../src/index.js";
import { BACKENDS, cleanupAll, exportToBuffer, sampleStream, xenVerify } from "./helpers.js";

afterAll(cleanupAll);

describe.each(BACKENDS)("round trip on %s", (_name, open) => {
  it.each([
    ["x86-hvm", 1],
    ["x86-hvm", 700],
    ["x86-pv", 300],
    ["x86-pv", 2600],
    ["x86-hvm", 4100],
  ] as const)(
    "a %s stream of %i pages comes back byte for byte and passes Xen's verifier",
    async (domainType, pages) => {
      const store = await open();
      const stream = await sampleStream({ domainType, pages, seed: pages });
      // Fed as small chunks, as a pipe would deliver it.
      const chunks = function* () {
        for (let at = 0; at < stream.length; at += 65_536) yield stream.subarray(at, at + 65_536);
      };
      const result = await importImage(store, chunks(), { domain: `vm-${pages}` });
      expect(result.bytesTotal).toBe(stream.length);
      expect(result.pages).toBeGreaterThanOrEqual(pages);
      expect(result.zeroPages).toBe(Math.floor((pages + 10) / 16));
      const out = await exportToBuffer(store, result.imageId);
      expect(out.equals(stream)).toBe(true);
      const skipped = await xenVerify(out);
      if (skipped !== undefined) console.warn(`Xen verifier not run: ${skipped}`);
      const images = await listImages(store, { domain: `vm-${pages}` });
      expect(images.map((i) => i.id)).toEqual([result.imageId]);
      expect(images[0]!.manifest).toMatchObject({
        domainType,
        streamBytes: stream.length,
        domain: { name: `vm-${pages}`, uuid: expect.stringMatching(/^00000000-/) },
      });
      await expect(verifyImage(store, result.imageId)).resolves.toMatchObject({ bytes: stream.length });
      await store.close();
    },
  );

  it("an unknown optional record comes back byte for byte, counted as one record", async () => {
    const store = await open();
    const plain = await sampleStream({ domainType: "x86-hvm", pages: 700, seed: 3 });
    let at = 0;
    for await (const e of readStream([plain]))
      if (e.kind === "page-data") {
        at = e.offset;
        break;
      }
    // 3 MiB and 5 bytes of body (so padded), longer than a block's raw target.
    const body = Buffer.alloc(3 * 1024 * 1024 + 5, 0x5a);
    const header = Buffer.alloc(8);
    header.writeUInt32LE(0x80000077, 0);
    header.writeUInt32LE(body.length, 4);
    const stream = Buffer.concat([plain.subarray(0, at), header, body, Buffer.alloc(3), plain.subarray(at)]);
    const chunks = function* () {
      for (let i = 0; i < stream.length; i += 65_536) yield stream.subarray(i, i + 65_536);
    };
    const withRecord = await importImage(store, chunks(), { domain: "vm-unknown" });
    const without = await importImage(store, [plain], { domain: "vm-plain" });
    expect((await exportToBuffer(store, withRecord.imageId)).equals(stream)).toBe(true);
    const [image] = await listImages(store, { domain: "vm-unknown" });
    const [base] = await listImages(store, { domain: "vm-plain" });
    expect(image!.manifest!.records).toBe(base!.manifest!.records + 1);
    expect(withRecord.pages).toBe(without.pages);
    await expect(verifyImage(store, withRecord.imageId)).resolves.toMatchObject({ bytes: stream.length });
    await store.close();
  });

  it("records the host, the labels, the domain's name and the bytes the import added in the manifest", async () => {
    const store = await open();
    const stream = await sampleStream({ domainType: "x86-pv", pages: 600, seed: 12 });
    const uuid = "6f1e2d3c-0000-4000-8000-000000000012";
    const first = await importImage(store, [stream], { domain: uuid, uuid, host: "host-2", labels: ["nightly"] });
    const second = await importImage(store, [stream], { domain: uuid, uuid, host: "host-2", labels: [] });
    const [a, b] = await listImages(store, { domain: uuid });
    // Filed under its uuid, the image records the name from the stream's xl config.
    expect(a!.manifest).toMatchObject({
      domain: { name: uuid },
      domainName: "sample-12",
      host: "host-2",
      labels: ["nightly"],
      bytesNew: first.bytesNew,
    });
    expect(b!.manifest).toMatchObject({ labels: [], bytesNew: second.bytesNew });
    expect(second.bytesNew).toBeLessThan(first.bytesNew / 10);
    // Filed under a name of its own, an image records no other name, and only what it added.
    const plain = await importImage(store, [stream], { domain: "web" });
    const [c] = await listImages(store, { domain: "web" });
    expect(c!.id).toBe(plain.imageId);
    expect(c!.manifest).not.toHaveProperty("host");
    expect(c!.manifest).not.toHaveProperty("domainName");
    expect(c!.manifest?.bytesNew).toBe(plain.bytesNew);
    await store.close();
  });

  it("exports to a Node writable with backpressure", async () => {
    const store = await open();
    const stream = await sampleStream({ domainType: "x86-hvm", pages: 3000, seed: 9 });
    const { imageId } = await importImage(store, [stream], { domain: "w" });
    const { PassThrough } = await import("node:stream");
    const sink = new PassThrough({ highWaterMark: 1024 });
    const collected: Buffer[] = [];
    const reading = (async () => {
      for await (const c of sink) collected.push(c as Buffer);
    })();
    await exportImage(store, imageId, sink);
    sink.end();
    await reading;
    expect(Buffer.concat(collected).equals(stream)).toBe(true);
    await store.close();
  });
});

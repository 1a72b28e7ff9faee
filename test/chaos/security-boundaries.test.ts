/**
 * Outside data that becomes a path: a uuid from a stream's xl config names
 * the sim domain's directory, so a crafted image must be refused before
 * anything is written where the uuid points.
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeXlHeader } from "@xenfleet/format";
import { BadDomainUuidError, SimHost } from "@xenfleet/hypervisor";
import { tempDir } from "./procs.js";

const MiB = 2 ** 20;
/** The fixed part of an xl save-file header (magic line, byte order, flags, optional length). */
const XL_FIXED = 48;

let dir: string;
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A genuine saved domain, its xl config rewritten with `edit`. */
async function craftedImage(host: SimHost, edit: (config: { c_info: Record<string, unknown> }) => void) {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on("data", (c: Buffer) => chunks.push(c));
  const domain = await host.createDomain({ name: `victim-${Date.now()}`, type: "pv", memoryBytes: 4 * MiB });
  await host.save(domain.uuid, sink, { mode: "checkpoint" });
  sink.end();
  await host.destroy(domain.uuid);
  const image = Buffer.concat(chunks);
  const optionalLength = image.readUInt32LE(XL_FIXED - 4);
  const configText = image.subarray(XL_FIXED + 4, XL_FIXED + optionalLength - 1).toString("utf8");
  const config = JSON.parse(configText) as { c_info: Record<string, unknown> };
  edit(config);
  return Buffer.concat([encodeXlHeader({ byteOrder: "little", config }), image.subarray(XL_FIXED + optionalLength)]);
}

describe("a uuid from a stream is a GUID or refused", () => {
  it("a restore whose xl config names a uuid that climbs out of the state dir writes nothing outside it", async () => {
    const host = await SimHost.open(join(dir, "state", "host"), { name: "h", totalMemoryBytes: 64 * MiB });
    const target = join(dir, "escaped");
    const image = await craftedImage(host, (config) => {
      // <dir>/state/host/domains/../../../escaped is <dir>/escaped.
      config.c_info.uuid = "../../../escaped";
      config.c_info.name = "crafted";
    });
    const error = await host.restore(Readable.from([image])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadDomainUuidError);
    expect((error as BadDomainUuidError).code).toBe("XF_DOMAIN_BAD_UUID");
    // Nothing where the uuid pointed, nothing next to the host's state dir, no domain, no leftovers.
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(["state"]);
    expect(readdirSync(join(dir, "state"))).toEqual(["host"]);
    expect(await host.listDomains()).toEqual([]);
    expect(readdirSync(join(dir, "state", "host", "incoming"))).toEqual([]);
  });

  it("a uuid that is not a GUID but harmless-looking is refused too, and a GUID restores", async () => {
    const host = await SimHost.open(join(dir, "state", "host"), { name: "h", totalMemoryBytes: 64 * MiB });
    const odd = await craftedImage(host, (config) => {
      config.c_info.uuid = "not-a-guid";
    });
    await expect(host.restore(Readable.from([odd]))).rejects.toBeInstanceOf(BadDomainUuidError);
    const good = await craftedImage(host, (config) => {
      config.c_info.uuid = "0b6f3a52-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
      config.c_info.name = "restored";
    });
    const restored = await host.restore(Readable.from([good]));
    expect(restored.uuid).toBe("0b6f3a52-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
    await host.destroy(restored.uuid);
  });
});

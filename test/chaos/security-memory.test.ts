/**
 * A stream cannot make a worker hold many times what it sends: a valid
 * stream carrying one 128 MiB unknown optional record (the most Xen allows
 * in one record) is verified and imported, each in a process of its own,
 * with that process's resident memory rising by less than twice the
 * record. Before, verifying took about 3x the record and importing 6x.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStream, writeSampleStream } from "@xenfleet/format";
import { verifyImage } from "@xenfleet/image";
import { LocalStore } from "@xenfleet/store";
import { ROOT, tempDir } from "./procs.js";

const MiB = 1024 * 1024;
const RECORD = 128 * MiB;
let dir: string;
let streamFile: string;

/** A sample domain's stream with one unknown optional libxc record of RECORD random bytes before its first pages. */
async function writeStream(path: string): Promise<void> {
  const chunks: Uint8Array[] = [];
  await writeSampleStream((chunk) => void chunks.push(chunk.slice()), { domainType: "x86-hvm", pages: 2000, seed: 9 });
  const plain = Buffer.concat(chunks);
  let at = -1;
  for await (const e of readStream([plain]))
    if (e.kind === "page-data") {
      at = e.offset;
      break;
    }
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x8000_0123, 0); // bit 31: optional
  header.writeUInt32LE(RECORD, 4); // a multiple of 8: no padding
  const out = createWriteStream(path);
  const write = async (bytes: Uint8Array) => {
    if (!out.write(bytes)) await once(out, "drain");
  };
  await write(plain.subarray(0, at));
  await write(header);
  // Random, so that no compression makes the record small on the way.
  for (let i = 0; i < RECORD / (8 * MiB); i++) await write(randomBytes(8 * MiB));
  await write(plain.subarray(at));
  out.end();
  await once(out, "close");
}

interface Measured {
  before: number;
  peak: number;
  growth: number;
  result: { ok: boolean; imageId?: string; bytesTotal?: number; records?: { libxc: Record<string, number> } };
}

async function measure(...args: string[]): Promise<Measured> {
  const child = spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", join(import.meta.dirname, "helpers", "measure-memory.ts"), ...args],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const [code] = await once(child, "exit");
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout.trim()) as Measured;
}

beforeAll(async () => {
  dir = tempDir();
  streamFile = join(dir, "stream");
  await writeStream(streamFile);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("an unknown optional record of 128 MiB", () => {
  it("is verified with resident memory rising by less than twice its size", async () => {
    const m = await measure("verify", streamFile);
    expect(m.result.ok).toBe(true);
    expect(m.result.records?.libxc.UNKNOWN).toBe(1);
    expect(m.growth).toBeLessThan(2 * RECORD);
  });

  it("is imported with resident memory rising by less than twice its size, and the image holds it", async () => {
    const storeDir = join(dir, "store");
    const m = await measure("import", streamFile, storeDir);
    expect(m.result.ok).toBe(true);
    expect(m.result.bytesTotal).toBe(statSync(streamFile).size);
    expect(m.growth).toBeLessThan(2 * RECORD);
    const store = await LocalStore.open(storeDir);
    // Every byte comes back: the image's digest covers the record's bytes.
    await expect(verifyImage(store, m.result.imageId as never)).resolves.toMatchObject({
      bytes: statSync(streamFile).size,
    });
    await store.close();
  });
});

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { readStream, writeSampleStream, type SampleOptions } from "@xenfleet/format";
import { randomBytes } from "node:crypto";
import { EncryptedStore, LocalStore, type ObjectStore } from "@xenfleet/store";
import { S3Store } from "@xenfleet/store/s3";
import { startTestS3Server, type TestS3Server } from "@xenfleet/store/testing";
import { exportImage, type Sha256Id } from "../src/index.js";

const cleanups: Array<() => Promise<void>> = [];

export async function cleanupAll(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

export async function tempDir(prefix = "xenfleet-image-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function localStore(): Promise<ObjectStore & { root: string }> {
  const root = await tempDir("xenfleet-image-store-");
  const store = await LocalStore.open(root);
  return Object.assign(store, { root });
}

let s3: TestS3Server | undefined;
export async function s3Store(): Promise<ObjectStore> {
  if (s3 === undefined) {
    s3 = await startTestS3Server();
    const server = s3;
    cleanups.push(async () => {
      await server.close();
      s3 = undefined;
    });
  }
  return new S3Store(s3.config(await s3.createBucket()));
}

/** A filesystem store holding everything encrypted, under a fresh key. */
export async function encryptedLocalStore(): Promise<EncryptedStore> {
  return new EncryptedStore(await localStore(), randomBytes(32));
}

export const BACKENDS: Array<[string, () => Promise<ObjectStore>]> = [
  ["filesystem", localStore],
  ["s3 over HTTP", s3Store],
  ["encrypted filesystem", encryptedLocalStore],
];

/** A whole sample stream in memory. */
export async function sampleStream(options: SampleOptions): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  await writeSampleStream((c) => void chunks.push(Uint8Array.from(c)), options);
  return Buffer.concat(chunks);
}

/** A copy of the stream with about `fraction` of its data pages overwritten with new bytes (deterministic by seed). */
export async function mutatePages(
  stream: Buffer,
  fraction: number,
  seed: number,
): Promise<{ stream: Buffer; changed: number }> {
  const copy = Buffer.from(stream);
  let x = seed | 1;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  let changed = 0;
  for await (const ev of readStream(copy)) {
    if (ev.kind !== "page-data") continue;
    for (const page of ev.pages) {
      if (rand() >= fraction) continue;
      for (let i = 0; i < page.length; i++) page[i] = (rand() * 256) >>> 0;
      changed++;
    }
  }
  return { stream: copy, changed };
}

/** A copy of the stream whose data pages hold compressible text (a line naming the page, repeated), as guest memory often does. */
export async function textPages(stream: Buffer, tag = ""): Promise<Buffer> {
  const copy = Buffer.from(stream);
  let n = 0;
  for await (const ev of readStream(copy)) {
    if (ev.kind !== "page-data") continue;
    for (const page of ev.pages) {
      if (page.every((b) => b === 0)) continue;
      Buffer.from(page.buffer, page.byteOffset, page.length).fill(`page ${n++}${tag} of a guest's page cache\n`);
    }
  }
  return copy;
}

export async function exportToBuffer(store: ObjectStore, id: Sha256Id): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await exportImage(store, id, (c) => void chunks.push(Buffer.from(c)));
  return Buffer.concat(chunks);
}

const VERIFY = "/usr/lib/xen-4.17/bin/verify-stream-v2";

/**
 * Runs Xen's own verifier on a stream. Returns the reason it could not run
 * (missing locally), or undefined after it passed; fails under CI if missing.
 */
export async function xenVerify(stream: Buffer, format: "xl" | "libxl" | "libxc" = "xl"): Promise<string | undefined> {
  if (!existsSync(VERIFY)) {
    if (process.env.CI) throw new Error(`${VERIFY} is missing (install xen-utils-4.17)`);
    return `${VERIFY} is not installed`;
  }
  const dir = await tempDir();
  const file = join(dir, "stream");
  await writeFile(file, stream);
  await promisify(execFile)("python3", [VERIFY, "-i", file, "-f", format], {
    env: { ...process.env, PYTHONPATH: "/usr/lib/xen-4.17/lib/python" },
    maxBuffer: 64 * 1024 * 1024,
  });
  return undefined;
}

/**
 * Killed processes and the store: a holder killed with SIGKILL does not
 * keep the store locked (a lock naming this host and a pid that is gone is
 * stale at once), a killed import's temporary files are swept by gc once
 * older than its grace period, and gc's missing check covers packs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, rmSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSampleStream } from "@xenfleet/format";
import { gc, importImage, keys, listLocks, loadBlock, loadManifest } from "@xenfleet/image";
import { LocalStore } from "@xenfleet/store";
import { ROOT, tempDir } from "./procs.js";

let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = tempDir();
});
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function node(args: string[], stdin: "pipe" | "ignore" = "ignore"): ChildProcess {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", ...args], {
    cwd: ROOT,
    stdio: [stdin, "pipe", "pipe"],
  });
  children.push(child);
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

/** A sample stream of `pages` pages, as bytes. */
async function sample(pages: number, seed: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await writeSampleStream((chunk) => void chunks.push(Buffer.from(chunk)), { pages, seed });
  return Buffer.concat(chunks);
}

/**
 * `xenfleet image import -` killed with SIGKILL while it writes a pack: the
 * kill lands the moment a temporary file shows up in <store>/.tmp, so the
 * import dies mid-put, as a crash does. Tries again (a new import) in the
 * rare case the put finished between the look and the kill.
 */
async function killedImport(storeDir: string): Promise<void> {
  const stream = await sample(16384, 7);
  const tmp = join(storeDir, ".tmp");
  for (let attempt = 0; attempt < 5; attempt++) {
    const child = node(
      [
        join(ROOT, "packages", "cli", "src", "main.ts"),
        "image",
        "import",
        "-",
        "--domain",
        "victim",
        "--store",
        storeDir,
      ],
      "pipe",
    );
    child.stdin!.on("error", () => undefined);
    child.stdin!.write(stream);
    let exited = false;
    child.once("exit", () => (exited = true));
    const locks = join(storeDir, "locks");
    // Its lock first (it is written through .tmp too), then a pack being written.
    const caught = () => existsSync(locks) && readdirSync(locks).length > 0 && readdirSync(tmp).length > 0;
    while (!exited && !caught()) await new Promise((r) => setImmediate(r));
    await kill9(child);
    if (readdirSync(tmp).length > 0) return;
  }
  throw new Error("no import was caught mid-put in 5 tries");
}

describe("a killed holder does not keep the store locked", () => {
  it("after kill -9 of a gc holding its exclusive lock, an import proceeds at once", async () => {
    const storeDir = join(dir, "store-gc-killed");
    const store = await LocalStore.open(storeDir);
    const holder = node([join(import.meta.dirname, "helpers", "hold-store-lock.ts"), storeDir, "exclusive"]);
    const [line] = (await once(holder.stdout!, "data")) as [Buffer];
    expect(String(line)).toContain("locked");
    await kill9(holder);
    expect((await listLocks(store)).map((l) => l.record.purpose)).toEqual(["gc"]);
    // No waiting allowed beyond a few seconds: before, the dead lock held the store for 30 minutes.
    const stream = new PassThrough();
    const [result] = await Promise.all([
      importImage(store, stream, { domain: "web1", lock: { waitMs: 3000 } }),
      writeSampleStream(stream, { pages: 256, seed: 3 }).then(() => stream.end()),
    ]);
    expect(result.pages).toBeGreaterThan(0);
  });

  it("after kill -9 of an import mid-way, gc proceeds and deletes the dead lock", async () => {
    const storeDir = join(dir, "store-import-killed");
    await killedImport(storeDir);
    const store = await LocalStore.open(storeDir);
    expect((await listLocks(store)).map((l) => l.record.purpose)).toContain("import of victim");
    // gc waits for no lock (waitMs 0): a live import's lock would make it fail with STORE_LOCKED.
    const result = await gc(store, { graceMs: 3_600_000 });
    expect(result.deleted.locks).toBeGreaterThanOrEqual(1);
    expect(await listLocks(store)).toEqual([]);
  });
});

describe("debris and damage gc reports or removes", () => {
  it("a killed import's temporary files are swept once older than the grace period, and only then", async () => {
    const storeDir = join(dir, "store-debris");
    await killedImport(storeDir);
    const tmp = join(storeDir, ".tmp");
    const debris = readdirSync(tmp);
    expect(debris.length).toBeGreaterThan(0);
    const bytes = debris.reduce((sum, name) => sum + statSync(join(tmp, name)).size, 0);
    const store = await LocalStore.open(storeDir);
    // Younger than the grace period: a put may still be writing them.
    const young = await gc(store, { graceMs: 3_600_000 });
    expect(young.deleted.temporary).toBe(0);
    expect(readdirSync(tmp)).toEqual(debris);
    const swept = await gc(store, { graceMs: 0 });
    expect(swept.deleted.temporary).toBe(debris.length);
    expect(swept.bytesFreed).toBeGreaterThanOrEqual(bytes);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it("a deleted pack of a live image is reported missing", async () => {
    const storeDir = join(dir, "store-missing-pack");
    const store = await LocalStore.open(storeDir);
    const stream = new PassThrough();
    const importing = importImage(store, stream, { domain: "web1" });
    await writeSampleStream(stream, { pages: 2048, seed: 5 });
    stream.end();
    const { imageId } = await importing;
    const manifest = await loadManifest(store, imageId);
    const block = manifest.blocks[0]!.id;
    const pack = (await loadBlock(store, block as keys.Sha256Id, block as keys.Sha256Id)).packs[0]!;
    unlinkSync(join(storeDir, keys.packKey(pack as keys.Sha256Id)));
    const result = await gc(store, { graceMs: 0, dryRun: true });
    expect(result.missing).toContain(`pack ${pack}`);
  });
});

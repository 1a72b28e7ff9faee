import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { writeSampleStream } from "@xenfleet/format";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../../..");
const main = join(root, "packages/cli/src/main.ts");

/** Runs xenfleet from its sources; the outcome whatever the exit code. */
async function xenfleet(args: string[], env: Record<string, string> = {}) {
  const base = { ...process.env, XENFLEET_STORE: "", XENFLEET_KEY_FILE: "", XENFLEET_PASSPHRASE: "" };
  try {
    const r = await promisify(execFile)(process.execPath, ["--conditions=source", "--import", "tsx", main, ...args], {
      cwd: root,
      maxBuffer: 64 * 2 ** 20,
      env: { ...base, ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
/** The fields of the documents these tests read. */
interface Doc {
  ok: boolean;
  error: { code: string; message: string };
  key: { id: string; kind: string };
  keys: { id: string; current: boolean }[];
  imageId: string;
  copied: number;
}
const json = (r: { stdout: string }) => JSON.parse(r.stdout) as Doc;

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-cli-keys-"));
  dirs.push(dir);
  const chunks: Uint8Array[] = [];
  await writeSampleStream((c) => void chunks.push(Uint8Array.from(c)), { domainType: "x86-hvm", pages: 1200, seed: 9 });
  const stream = Buffer.concat(chunks);
  const file = join(dir, "vm.xl");
  await writeFile(file, stream);
  return { dir, file, stream };
}

/** Every file under `dir`, whole. */
async function filesUnder(dir: string): Promise<Buffer[]> {
  const names = (await readdir(dir, { recursive: true })) as string[];
  const out: Buffer[] = [];
  for (const n of names) if ((await stat(join(dir, n))).isFile()) out.push(await readFile(join(dir, n)));
  return out;
}

/** Each file under `dir` outside keys/ and its SHA-256: what a key rotation must leave as it is. */
async function dataFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const n of (await readdir(dir, { recursive: true })) as string[]) {
    if (n.startsWith("keys") || !(await stat(join(dir, n))).isFile()) continue;
    out.set(
      n,
      createHash("sha256")
        .update(await readFile(join(dir, n)))
        .digest("hex"),
    );
  }
  return out;
}

/** 32-byte runs from the middle of every 16th 4 KiB stretch of the stream that is not all zero. */
function samples(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 4096 * 4; at + 4096 <= stream.length; at += 4096 * 16) {
    const run = stream.subarray(at + 2048, at + 2080);
    if (run.some((b) => b !== 0)) out.push(run);
  }
  return out;
}

describe("xenfleet init --encrypt, key add|list|remove", () => {
  it("makes an encrypted store that round-trips with its key, and rotates keys without rewriting data", async () => {
    const { dir, file, stream } = await setup();
    const store = join(dir, "store");
    const k1 = join(dir, "one.key");
    const k2 = join(dir, "two.key");

    const made = await xenfleet(["init", "--store", store, "--encrypt", "--key-file", k1, "--json"]);
    expect(made.code).toBe(0);
    expect(json(made)).toMatchObject({ ok: true, encrypted: true, keyFileCreated: true, key: { kind: "file" } });
    expect((await stat(k1)).mode & 0o777).toBe(0o600);
    const k1Id = json(made).key.id;

    const imported = await xenfleet(["image", "import", file, "--domain", "vm", "--store", store, "--json"], {
      XENFLEET_KEY_FILE: k1,
    });
    expect(imported.code).toBe(0);
    const imageId = json(imported).imageId;
    const out1 = join(dir, "out1.xl");
    expect((await xenfleet(["image", "export", imageId, out1, "--store", store, "--key-file", k1])).code).toBe(0);
    expect((await readFile(out1)).equals(stream)).toBe(true);

    // Nothing of the stream's pages is in the store's files.
    const files = await filesUnder(store);
    expect(samples(stream).length).toBeGreaterThan(30);
    for (const run of samples(stream)) for (const f of files) expect(f.includes(run)).toBe(false);

    // Without a key: one clear error naming how to give it.
    const missing = await xenfleet(["image", "ls", "--store", store, "--json"]);
    expect(missing.code).toBe(2);
    expect(json(missing).error.code).toBe("XF_KEY_MISSING");
    expect(json(missing).error.message).toContain("XENFLEET_KEY_FILE");

    const before = await dataFiles(store);
    const added = await xenfleet(["key", "add", "--store", store, "--key-file", k1, "--new-key-file", k2, "--json"]);
    expect(added.code).toBe(0);
    expect(json(added)).toMatchObject({ ok: true, keyFileCreated: true });
    const k2Id = json(added).key.id;

    const listed = json(await xenfleet(["key", "list", "--store", store, "--key-file", k2, "--json"]));
    expect(listed.keys.map((k) => [k.id, k.current])).toEqual([
      [k1Id, false],
      [k2Id, true],
    ]);

    // The key given to unlock is not the one removed; the last one never is.
    const self = await xenfleet(["key", "remove", k1Id, "--store", store, "--key-file", k1, "--json"]);
    expect(self.code).toBe(2);
    expect(json(self).error.code).toBe("XF_KEY_REFUSED");
    expect((await xenfleet(["key", "remove", k1Id, "--store", store, "--key-file", k2])).code).toBe(0);
    const last = await xenfleet(["key", "remove", k2Id, "--store", store, "--key-file", k2, "--json"]);
    expect(json(last).error.message).toMatch(/last key/);
    // Rotation wrote and deleted wrapped keys only: every other file of the store is as it was.
    expect(await dataFiles(store)).toEqual(before);

    const wrong = await xenfleet([
      "image",
      "export",
      imageId,
      join(dir, "no.xl"),
      "--store",
      store,
      "--key-file",
      k1,
      "--json",
    ]);
    expect(wrong.code).toBe(2);
    expect(json(wrong).error.code).toBe("XF_KEY_WRONG");
    const out2 = join(dir, "out2.xl");
    expect((await xenfleet(["image", "export", imageId, out2, "--store", store, "--key-file", k2])).code).toBe(0);
    expect((await readFile(out2)).equals(stream)).toBe(true);
  });

  it("opens with a passphrase from XENFLEET_PASSPHRASE, and a key for a plain store is refused", async () => {
    const { dir, file } = await setup();
    const store = join(dir, "store");
    const env = { XENFLEET_PASSPHRASE: "correct horse battery staple" };
    expect((await xenfleet(["init", "--store", store, "--encrypt"], env)).code).toBe(0);
    expect((await xenfleet(["image", "import", file, "--domain", "vm", "--store", store], env)).code).toBe(0);
    const wrong = await xenfleet(["image", "ls", "--store", store, "--json"], { XENFLEET_PASSPHRASE: "nope" });
    expect(json(wrong).error.code).toBe("XF_KEY_WRONG");
    // A second passphrase, named by the variable that holds it (never given as a flag).
    const second = { ...env, NEW_PASSPHRASE: "a second passphrase" };
    const added = await xenfleet(
      ["key", "add", "--store", store, "--new-passphrase-env", "NEW_PASSPHRASE", "--json"],
      second,
    );
    expect(json(added)).toMatchObject({ ok: true, key: { kind: "passphrase" } });
    expect(added.stdout + added.stderr).not.toContain("a second passphrase");
    const opened = await xenfleet(["image", "ls", "--store", store, "--json"], {
      XENFLEET_PASSPHRASE: "a second passphrase",
    });
    expect(json(opened).ok).toBe(true);

    const plain = join(dir, "plain");
    expect((await xenfleet(["image", "import", file, "--domain", "vm", "--store", plain])).code).toBe(0);
    const keyed = await xenfleet(["image", "ls", "--store", plain, "--key-file", join(dir, "x.key"), "--json"]);
    expect(keyed.code).toBe(2);
    expect(json(keyed).error.code).toBe("XF_KEY_PLAIN_STORE");
  });

  it("refuses init of a store that holds objects", async () => {
    const { dir, file } = await setup();
    const store = join(dir, "store");
    expect((await xenfleet(["image", "import", file, "--domain", "vm", "--store", store])).code).toBe(0);
    const r = await xenfleet(["init", "--store", store, "--encrypt", "--key-file", join(dir, "k"), "--json"]);
    expect(r.code).toBe(2);
    expect(json(r).error.code).toBe("XF_STORE_EXISTS");
    // No key file is made for a store that is refused.
    await expect(stat(join(dir, "k"))).rejects.toThrow(/ENOENT/);
  });
});

describe("xenfleet image copy", () => {
  it("copies a plain store into an encrypted one, which exports byte for byte; a second run copies nothing", async () => {
    const { dir, file, stream } = await setup();
    const plain = join(dir, "plain");
    const encrypted = join(dir, "encrypted");
    const key = join(dir, "enc.key");
    const imported = await xenfleet(["image", "import", file, "--domain", "vm", "--store", plain, "--json"]);
    const imageId = json(imported).imageId;
    expect((await xenfleet(["init", "--store", encrypted, "--encrypt", "--key-file", key])).code).toBe(0);
    // The scan below can fail: the plain store holds the pages as they are.
    const plainFiles = await filesUnder(plain);
    expect(samples(stream).every((run) => plainFiles.some((f) => f.includes(run)))).toBe(true);

    const copied = await xenfleet([
      "image",
      "copy",
      "--all",
      "--store",
      plain,
      "--to",
      encrypted,
      "--to-key-file",
      key,
      "--json",
    ]);
    expect(copied.code).toBe(0);
    expect(json(copied)).toMatchObject({ ok: true, images: 1 });
    expect(json(copied).copied).toBeGreaterThan(2);

    const encryptedFiles = await filesUnder(encrypted);
    for (const run of samples(stream)) for (const f of encryptedFiles) expect(f.includes(run)).toBe(false);
    const out = join(dir, "out.xl");
    expect((await xenfleet(["image", "export", imageId, out, "--store", encrypted, "--key-file", key])).code).toBe(0);
    expect((await readFile(out)).equals(stream)).toBe(true);
    const check = await xenfleet(["check", "--read-data", "--store", encrypted, "--key-file", key, "--json"]);
    expect(json(check).ok).toBe(true);

    const again = json(
      await xenfleet(["image", "copy", imageId, "--store", plain, "--to", encrypted, "--to-key-file", key, "--json"]),
    );
    expect(again).toMatchObject({ ok: true, images: 1, copied: 0 });

    // And back out into a new plain store, from the encrypted one.
    const back = join(dir, "back");
    const out2 = await xenfleet([
      "image",
      "copy",
      "--domain",
      "vm",
      "--store",
      encrypted,
      "--key-file",
      key,
      "--to",
      back,
      "--json",
    ]);
    expect(json(out2)).toMatchObject({ ok: true, images: 1 });
    const exported = join(dir, "back.xl");
    expect((await xenfleet(["image", "export", imageId, exported, "--store", back])).code).toBe(0);
    expect((await readFile(exported)).equals(stream)).toBe(true);
  });
});

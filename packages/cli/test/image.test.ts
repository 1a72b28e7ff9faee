import { execFile, spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { writeSampleStream } from "@xenfleet/format";
import { writeLegacyStream } from "@xenfleet/format/legacy";

const root = join(import.meta.dirname, "../../..");
const main = join(root, "packages/cli/src/main.ts");
const args = (a: string[]) => ["--conditions=source", "--import", "tsx", main, ...a];
const run = (a: string[]) =>
  promisify(execFile)(process.execPath, args(a), {
    cwd: root,
    maxBuffer: 256 * 2 ** 20,
    env: { ...process.env, XENFLEET_STORE: "" },
  });

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function setup(): Promise<{ dir: string; store: string; file: string; stream: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-cli-image-"));
  dirs.push(dir);
  const chunks: Uint8Array[] = [];
  await writeSampleStream((c) => void chunks.push(Uint8Array.from(c)), { domainType: "x86-hvm", pages: 1500, seed: 4 });
  const stream = Buffer.concat(chunks);
  const file = join(dir, "vm.xl");
  await writeFile(file, stream);
  return { dir, store: `file://${join(dir, "store")}`, file, stream };
}

describe("xenfleet image", () => {
  it("imports a legacy (pre-v2) xl file as v2 and says so", async () => {
    const { dir, store } = await setup();
    const file = join(dir, "old.xl");
    await writeFile(
      file,
      writeLegacyStream({
        width: 32,
        guest: "pv",
        guestWidth: 4,
        pages: 120,
        xl: { config: { c_info: { name: "old" } } },
      }),
    );
    const imported = JSON.parse(
      (await run(["image", "import", file, "--domain", "old", "--json", "--store", store])).stdout,
    ) as { imageId: string; source: string; width: number };
    expect(imported).toMatchObject({ ok: true, source: "legacy", width: 32 });
    const out = join(dir, "old-v2.xl");
    await run(["image", "export", imported.imageId, out, "--store", store]);
    const verified = await promisify(execFile)(process.execPath, args(["stream", "verify", out]), { cwd: root });
    expect(verified.stdout + verified.stderr).not.toMatch(/error/i);
  });

  it("imports, lists, exports byte for byte, verifies and removes an image", async () => {
    const { dir, store, file, stream } = await setup();
    const imported = await run(["image", "import", file, "--domain", "web", "--store", store]);
    const id = imported.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(imported.stderr).toBe(""); // not a terminal: no progress bar

    const again = await run(["image", "import", file, "--domain", "web", "--json", "--store", store]);
    const json = JSON.parse(again.stdout) as { imageId: string; bytesTotal: number; bytesNew: number };
    expect(json.imageId).toMatch(/^[0-9a-f]{64}$/);
    expect(json.bytesTotal).toBe(stream.length);
    expect(json.bytesNew).toBeLessThan(stream.length / 10);

    const ls = await run(["image", "ls", "--domain", "web", "--json", "--store", store]);
    const listed = JSON.parse(ls.stdout) as {
      ok: boolean;
      images: Array<{ imageId: string; domain: string; bytesTotal: number; bytesNew: number }>;
    };
    expect(listed.ok).toBe(true);
    expect(listed.images.map((l) => l.imageId)).toEqual([id, json.imageId]);
    expect(listed.images[0]).toMatchObject({ domain: "web", bytesTotal: stream.length });
    // Each image's own new bytes, as its import reported them.
    expect(listed.images[1]!.bytesNew).toBe(json.bytesNew);

    const out = join(dir, "out.xl");
    await run(["image", "export", id.slice(0, 12), out, "--store", store]);
    expect((await readFile(out)).equals(stream)).toBe(true);
    const verified = await run(["image", "verify", id, "--store", store]);
    expect(verified.stdout).toMatch(/^ok /);
    const recorded = JSON.parse((await run(["image", "ls", "--json", "--store", store])).stdout) as {
      images: Array<{ imageId: string; verified: { ok: boolean; at: string } | null }>;
    };
    expect(recorded.images.find((i) => i.imageId === id)?.verified).toMatchObject({ ok: true });
    expect(recorded.images.find((i) => i.imageId === json.imageId)?.verified).toBeNull();

    await run(["image", "rm", id, "--store", store]);
    const after = await run(["image", "ls", "--json", "--store", store]);
    expect((JSON.parse(after.stdout) as { images: Array<{ imageId: string }> }).images.map((i) => i.imageId)).toEqual([
      json.imageId,
    ]);
    const swept = JSON.parse((await run(["gc", "--grace", "0", "--json", "--store", store])).stdout) as {
      deleted: { manifests: number };
    };
    expect(swept.deleted.manifests).toBe(1);
    // A dozen CLI processes, each starting Node and the packages: on a loaded machine that outlasts the default.
  }, 180_000);

  it("checks a whole store: ok when sound, exit 1 naming the broken pack and image", async () => {
    const { dir, store, file } = await setup();
    const id = (await run(["image", "import", file, "--domain", "web", "--store", store])).stdout.trim();
    const sound = JSON.parse((await run(["check", "--read-data", "--json", "--store", store])).stdout) as {
      ok: boolean;
      problems: unknown[];
      dataRead: { packs: number };
    };
    expect(sound).toMatchObject({ ok: true, problems: [] });
    expect(sound.dataRead.packs).toBeGreaterThan(0);
    const packs = join(dir, "store", "packs");
    const [fan] = await readdir(packs);
    const [pack] = await readdir(join(packs, fan!));
    const path = join(packs, fan!, pack!);
    const bytes = await readFile(path);
    bytes[bytes.length >> 1]! ^= 0xff;
    await writeFile(path, bytes);
    // The structure holds; only reading the data finds the flipped byte.
    await run(["check", "--store", store]);
    const failed = await run(["check", "--read-data", "--store", store]).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 1 });
    const out = (failed as { stdout: string; stderr: string }).stdout + (failed as { stderr: string }).stderr;
    expect(out).toContain(`packs/${fan}/${pack}`);
    expect(out).toContain(`broken image ${id} web`);
    await expect(run(["check", "--read-data-subset", "0/7", "--store", store])).rejects.toMatchObject({ code: 2 });
  });

  it("imports from stdin and exports to stdout", async () => {
    const { store, file, stream } = await setup();
    const child = spawn(process.execPath, args(["image", "import", "-", "--domain", "pipe", "--store", store]), {
      cwd: root,
    });
    createReadStream(file).pipe(child.stdin);
    let id = "";
    child.stdout.on("data", (c: Buffer) => (id += c.toString()));
    await new Promise((resolve) => child.on("exit", resolve));
    const exported = await promisify(execFile)(
      process.execPath,
      args(["image", "export", id.trim(), "-", "--store", store]),
      { cwd: root, encoding: "buffer", maxBuffer: 64 * 2 ** 20 },
    );
    expect(Buffer.from(exported.stdout).equals(stream)).toBe(true);
  });

  it("writes an export whole or not at all, and a read-only command never creates a store", async () => {
    const { dir, store, file } = await setup();
    const id = (await run(["image", "import", file, "--domain", "web", "--store", store])).stdout.trim();
    await expect(
      run(["image", "export", id, join(dir, "no", "such", "dir", "out.xl"), "--store", store]),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/cannot write .*out\.xl: no such directory \[XF_CLI_CANNOT_WRITE\]/),
    });
    // A corrupt pack fails the export half way: no file, no temporary file left.
    const packs = join(dir, "store", "packs");
    const [fan] = await readdir(packs);
    const [pack] = await readdir(join(packs, fan!));
    const bytes = await readFile(join(packs, fan!, pack!));
    bytes[bytes.length >> 1]! ^= 0xff;
    await writeFile(join(packs, fan!, pack!), bytes);
    const out = join(dir, "out.xl");
    await expect(run(["image", "export", id, out, "--store", store])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/XF_(IMAGE|STORE)_CORRUPT/),
    });
    expect((await readdir(dir)).filter((f) => f.includes("out.xl"))).toEqual([]);
    // A mistyped store path is an error (exit code 3), and is not created.
    for (const command of [["image", "ls"], ["image", "verify", id], ["gc"]]) {
      await expect(run([...command, "--store", join(dir, "stor")])).rejects.toMatchObject({
        code: 3,
        stderr: expect.stringMatching(/no store at .*stor: no such directory/),
      });
    }
    expect(await readdir(dir)).not.toContain("stor");
  });

  it("lists images with filters: domain by name or uuid, label, latest, since", async () => {
    const { store, file } = await setup();
    const imported = async (args: string[]) =>
      (
        JSON.parse((await run(["image", "import", file, "--json", "--store", store, ...args])).stdout) as {
          imageId: string;
        }
      ).imageId;
    const a = await imported(["--domain", "web", "--label", "nightly"]);
    const b = await imported(["--domain", "web"]);
    const c = await imported(["--domain", "db", "--label", "nightly,weekly"]);
    const ls = async (args: string[]) =>
      (
        JSON.parse((await run(["image", "ls", "--json", "--store", store, ...args])).stdout) as {
          images: Array<{ imageId: string; uuid: string; labels: string[] }>;
        }
      ).images;
    const all = await ls([]);
    expect(all.map((i) => i.imageId).sort()).toEqual([a, b, c].sort());
    expect((await ls(["--domain", "web"])).map((i) => i.imageId)).toEqual([a, b]);
    expect((await ls(["--label", "nightly"])).map((i) => i.imageId).sort()).toEqual([a, c].sort());
    expect((await ls(["--label", "nightly,weekly"])).map((i) => i.imageId)).toEqual([c]);
    expect((await ls(["--latest"])).map((i) => i.imageId).sort()).toEqual([b, c].sort());
    // Both domains' images are of one stream, so share its uuid.
    expect((await ls(["--domain", all[0]!.uuid, "--latest"])).map((i) => i.imageId).sort()).toEqual([b, c].sort());
    expect(await ls(["--since", "2100-01-01"])).toEqual([]);
    expect((await ls(["--since", "1h"])).length).toBe(3);
    const text = (await run(["image", "ls", "--store", store])).stdout.split("\n");
    expect(text[0]).toMatch(/^IMAGE\s+CREATED\s+DOMAIN\s+UUID\s+HOST\s+LABELS\s+SIZE\s+NEW\s+VERIFIED\s+HEALTH$/);
    expect(text[1]).toMatch(/\snever$/);
    await expect(run(["image", "ls", "--since", "yesterday", "--store", store])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/argument 'yesterday' is invalid/),
    });
    // Thirteen CLI processes, each starting Node and the packages: on a loaded machine that outlasts the default.
  }, 180_000);

  it("prunes by policy and refuses what is not an image id with exit code 2", async () => {
    const { store, file } = await setup();
    for (let i = 0; i < 3; i++) await run(["image", "import", file, "--domain", "db", "--store", store]);
    const pruned = JSON.parse((await run(["prune", "--keep-last", "1", "--json", "--store", store])).stdout) as {
      kept: unknown[];
      removed: unknown[];
    };
    expect(pruned.kept).toHaveLength(1);
    expect(pruned.removed).toHaveLength(2);
    await expect(run(["image", "verify", "nothex", "--store", store])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/not an image id/),
    });
    await expect(run(["image", "verify", "ab".repeat(32), "--store", store])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/not found/),
    });
  });
});

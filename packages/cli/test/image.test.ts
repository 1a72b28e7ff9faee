import { execFile, spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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
    ) as { id: string; source: string; width: number };
    expect(imported).toMatchObject({ source: "legacy", width: 32 });
    const out = join(dir, "old-v2.xl");
    await run(["image", "export", imported.id, out, "--store", store]);
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
    const json = JSON.parse(again.stdout) as { id: string; bytesTotal: number; bytesNew: number };
    expect(json.id).toMatch(/^[0-9a-f]{64}$/);
    expect(json.bytesTotal).toBe(stream.length);
    expect(json.bytesNew).toBeLessThan(stream.length / 10);

    const ls = await run(["image", "ls", "--domain", "web", "--json", "--store", store]);
    const lines = ls.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string; domain: string; streamBytes: number });
    expect(lines.map((l) => l.id)).toEqual([id, json.id]);
    expect(lines[0]).toMatchObject({ domain: "web", streamBytes: stream.length });

    const out = join(dir, "out.xl");
    await run(["image", "export", id.slice(0, 12), out, "--store", store]);
    expect((await readFile(out)).equals(stream)).toBe(true);
    const verified = await run(["image", "verify", id, "--store", store]);
    expect(verified.stdout).toMatch(/^ok /);

    await run(["image", "rm", id, "--store", store]);
    const after = await run(["image", "ls", "--json", "--store", store]);
    expect(
      after.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { id: string }).id),
    ).toEqual([json.id]);
    const swept = JSON.parse((await run(["gc", "--grace", "0", "--json", "--store", store])).stdout) as {
      deleted: { manifests: number };
    };
    expect(swept.deleted.manifests).toBe(1);
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

  it("prunes by policy and refuses what is not an image id with exit code 1", async () => {
    const { store, file } = await setup();
    for (let i = 0; i < 3; i++) await run(["image", "import", file, "--domain", "db", "--store", store]);
    const pruned = JSON.parse((await run(["prune", "--keep-last", "1", "--json", "--store", store])).stdout) as {
      kept: unknown[];
      removed: unknown[];
    };
    expect(pruned.kept).toHaveLength(1);
    expect(pruned.removed).toHaveLength(2);
    await expect(run(["image", "verify", "nothex", "--store", store])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/not an image id/),
    });
    await expect(run(["image", "verify", "ab".repeat(32), "--store", store])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/not found/),
    });
  });
});

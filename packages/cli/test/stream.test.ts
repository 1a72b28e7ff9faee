import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSampleStream } from "@xenfleet/format";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const main = join(root, "packages/cli/dist/main.js");

function run(args: string[], stdinFile?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (stdinFile) void readFile(stdinFile).then((b) => child.stdin.end(b));
    else child.stdin.end();
  });
}

let dir = "";
let valid = "";
let broken = "";

beforeAll(async () => {
  await new Promise<void>((resolve, reject) =>
    execFile("npx", ["turbo", "run", "build", "--filter=@xenfleet/cli..."], { cwd: root }, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  dir = await mkdtemp(join(tmpdir(), "xenfleet-cli-stream-"));
  const chunks: Uint8Array[] = [];
  await writeSampleStream((c) => void chunks.push(c.slice()), {
    layers: "xl",
    domainType: "x86-pv",
    pages: 1500,
    libxcVersion: 3,
  });
  const bytes = Buffer.concat(chunks);
  valid = join(dir, "valid.xl");
  broken = join(dir, "broken.xl");
  await writeFile(valid, bytes);
  await writeFile(broken, bytes.subarray(0, bytes.length - 100));
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("xenfleet stream", () => {
  it("inspect --json summarises a valid stream", async () => {
    const { code, stdout } = await run(["stream", "inspect", "--json", valid]);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({
      layers: ["xl", "libxl", "libxc"],
      libxc: { version: 3, domainType: "x86-pv", xenVersion: "4.17", byteOrder: "little" },
      libxl: { version: 2 },
      pages: 1500,
      records: { libxc: { PAGE_DATA: 2, END: 1, X86_PV_INFO: 1 }, libxl: { LIBXC_CONTEXT: 1, END: 1 } },
    });
    expect(summary.bytes).toBe((await readFile(valid)).length);
  });

  it("inspect prints a readable summary, reading standard input for -", async () => {
    const { code, stdout } = await run(["stream", "inspect", "-"], valid);
    expect(code).toBe(0);
    expect(stdout).toContain("xl > libxl > libxc");
    expect(stdout).toMatch(/PAGE_DATA\s+2/);
  });

  it("verify exits 0 on a valid stream", async () => {
    const { code, stdout } = await run(["stream", "verify", valid]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ok:/);
  });

  it("verify exits 1 with the typed error on a broken stream", async () => {
    const { code, stdout } = await run(["stream", "verify", "--json", broken]);
    expect(code).toBe(1);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      ok: false,
      error: { code: "XF_FORMAT_STREAM", reason: "truncated", layer: "libxc" },
    });
    expect(typeof result.error.offset).toBe("number");
    const plain = await run(["stream", "verify", "-"], broken);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("truncated");
  });

  it("verify exits 1 on a missing file", async () => {
    const { code, stderr } = await run(["stream", "verify", join(dir, "absent")]);
    expect(code).toBe(1);
    expect(stderr).toContain("ENOENT");
  });
});

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSampleStream } from "@xenfleet/format";
import { buildCli, xenfleet } from "./helpers.js";

const run = (args: string[], stdinFile?: string) => xenfleet(args, stdinFile === undefined ? {} : { stdinFile });

let dir = "";
let valid = "";
let broken = "";

beforeAll(async () => {
  await buildCli();
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
    const { ok, summary } = JSON.parse(stdout);
    expect(ok).toBe(true);
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

  it("verify exits 2 on a missing file, naming it", async () => {
    const { code, stderr } = await run(["stream", "verify", join(dir, "absent")]);
    expect(code).toBe(2);
    expect(stderr).toContain(`no such file: ${join(dir, "absent")}`);
  });

  it("verify of a file that is not a Xen stream says bad-magic", async () => {
    const text = join(dir, "notes.txt");
    await writeFile(text, "vm\n");
    const { code, stdout } = await run(["stream", "verify", "--json", text]);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, error: { code: "XF_FORMAT_STREAM", reason: "bad-magic" } });
  });
});

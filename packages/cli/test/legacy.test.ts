import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { openLegacyAsV2, writeLegacyStream } from "@xenfleet/format/legacy";
import { runCli } from "../src/program.js";

const dir = mkdtempSync(join(tmpdir(), "cli-legacy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** The whole command line, in process: its output and exit code. */
async function run(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s) => ((stderr += String(s)), true));
  try {
    const code = await runCli(["stream", "convert-legacy", ...args]);
    return { stdout, stderr, code };
  } finally {
    vi.restoreAllMocks();
  }
}

async function expected(bytes: Uint8Array, options = {}): Promise<Buffer> {
  const { chunks } = await openLegacyAsV2([bytes], options);
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

describe("xenfleet stream convert-legacy", () => {
  it("converts an xl-wrapped stream, detecting width and guest, and reports them", async () => {
    const input = join(dir, "wrapped.legacy");
    const output = join(dir, "wrapped.v2");
    const legacy = writeLegacyStream({ width: 32, guest: "hvm", seed: 1, xl: { config: { c_info: { name: "vm" } } } });
    writeFileSync(input, legacy);
    const r = await run(input, output, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: true,
      width: 32,
      guest: "hvm",
      xlWrapped: true,
      format: "libxl",
      widthDetected: true,
      guestDetected: true,
      p2mSize: 45,
      file: output,
    });
    expect(readFileSync(output).equals(await expected(legacy))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith(".partial"))).toEqual([]);
  });

  it("passes --width, --guest, --format and --skip-qemu through", async () => {
    const input = join(dir, "bare.legacy");
    const output = join(dir, "bare.v2");
    const legacy = writeLegacyStream({ width: 64, guest: "hvm", qemu: null, seed: 2 });
    writeFileSync(input, legacy);
    const r = await run(input, output, "--width", "64", "--guest", "hvm", "--format", "libxc", "--skip-qemu");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("64-bit toolstack, given");
    expect(readFileSync(output).equals(await expected(legacy, { width: 64, guest: "hvm", skipQemu: true }))).toBe(true);
  });

  it("fails with the typed error and leaves no output behind", async () => {
    const input = join(dir, "short.legacy");
    const output = join(dir, "short.v2");
    const legacy = writeLegacyStream({ width: 64, guest: "pv", seed: 3 });
    writeFileSync(input, legacy.subarray(0, legacy.length - 100));
    const r = await run(input, output, "--json");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      error: { code: "XF_LEGACY_STREAM", reason: "truncated", part: "PV tail" },
    });
    expect(existsSync(output)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith(".partial"))).toEqual([]);
  });

  it("explains an undecidable width", async () => {
    const input = join(dir, "empty.legacy");
    writeFileSync(
      input,
      writeLegacyStream({ width: 32, guest: "hvm", emptyBody: true, p2mSize: 64, magicPfns: [5n, 0n, 7n] }),
    );
    const r = await run(input, join(dir, "empty.v2"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--width 32|64");
    expect((await run(input, join(dir, "empty.v2"), "--width", "32")).code).toBe(0);
  });

  it("rejects a bad --width with exit code 2", async () => {
    const input = join(dir, "any.legacy");
    writeFileSync(input, "x");
    const r = await run(input, join(dir, "b"), "--width", "48");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/option '--width <bits>' argument '48' is invalid. Allowed choices are 32, 64/);
  });
});

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { openLegacyAsV2, writeLegacyStream } from "@xenfleet/format/legacy";
import { registerLegacyCommands } from "../src/commands/legacy.js";

const dir = mkdtempSync(join(tmpdir(), "cli-legacy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

async function run(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  process.exitCode = undefined;
  const program = new Command("xenfleet").exitOverride();
  registerLegacyCommands(program.command("stream"));
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s) => ((stderr += String(s)), true));
  await program.parseAsync(["stream", "convert-legacy", ...args], { from: "user" });
  vi.restoreAllMocks();
  return { stdout, stderr, code: Number(process.exitCode ?? 0) };
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
    });
    expect(readFileSync(output).equals(await expected(legacy))).toBe(true);
    expect(existsSync(`${output}.partial`)).toBe(false);
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
    expect(existsSync(`${output}.partial`)).toBe(false);
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

  it("rejects a bad --width", async () => {
    await expect(run("a", "b", "--width", "48")).rejects.toThrow(/--width must be 32 or 64/);
  });
});

import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../../..");
const main = join(root, "packages/cli/src/main.ts");
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, ["--conditions=source", "--import", "tsx", main, ...args], {
    cwd: root,
    maxBuffer: 256 * 2 ** 20,
  });

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe("xenfleet sim", () => {
  it.each(["pv", "hvm"])(
    "sample --type %s writes an image that sim restore brings back with the same digest",
    async (type) => {
      const dir = await mkdtemp(join(tmpdir(), "xenfleet-cli-sim-"));
      dirs.push(dir);
      const file = join(dir, "image.xl");
      const sample = await run(["sim", "sample", "--type", type, "--memory", "16M", "--seed", "5", "--json", file]);
      // The JSON goes to stdout, the image to the file.
      const report = JSON.parse(sample.stdout) as { ok: boolean; digest: string; type: string; file: string };
      expect(report).toMatchObject({ ok: true, type, file });
      const restored = await run(["sim", "restore", "--json", file]);
      const out = JSON.parse(restored.stdout) as {
        ok: boolean;
        type: string;
        memory: number;
        digest: { digest: string };
      };
      expect(out).toMatchObject({ ok: true, type, memory: 16 * 2 ** 20 });
      expect(out.digest.digest).toBe(report.digest);
    },
  );

  it("refuses a size that is not one", async () => {
    await expect(run(["sim", "sample", "--type", "pv", "--memory", "lots", "-"])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/not a size/),
    });
  });

  it("restore of a file that is not a stream fails with exit code 1 naming the format error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "xenfleet-cli-sim-"));
    dirs.push(dir);
    await expect(run(["sim", "restore", join(import.meta.dirname, "sim.test.ts")])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/bad-magic|XF_FORMAT_STREAM|StreamError/),
    });
  });
});

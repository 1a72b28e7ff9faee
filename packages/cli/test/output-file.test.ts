/**
 * Where a command's output goes: a regular file whole or not at all, and a
 * device or pipe written in place, never replaced by a renamed file.
 */
import { execFileSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import { afterEach, describe, expect, it } from "vitest";
import { CannotWriteError } from "../src/errors.js";
import { writeOutput } from "../src/output-file.js";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-output-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe("writeOutput", () => {
  it("writes into a FIFO in place, which stays a FIFO", async () => {
    const fifo = join(await tempDir(), "out.fifo");
    execFileSync("mkfifo", [fifo]);
    const received = text(createReadStream(fifo));
    await writeOutput(fifo, async (sink) => {
      sink.end("all of it");
    });
    expect(await received).toBe("all of it");
    expect((await stat(fifo)).isFIFO()).toBe(true);
  });

  it("replaces a regular file only once everything was written", async () => {
    const file = join(await tempDir(), "out.bin");
    await writeFile(file, "old");
    const failing = writeOutput(file, async (sink) => {
      sink.write("half");
      throw new Error("the image is corrupt");
    });
    await expect(failing).rejects.toThrow("the image is corrupt");
    expect(await readFile(file, "utf8")).toBe("old");
    await writeOutput(file, async (sink) => {
      sink.end("new");
    });
    expect(await readFile(file, "utf8")).toBe("new");
  });

  it("refuses a path in a missing directory with CannotWriteError", async () => {
    const path = join(await tempDir(), "no", "such", "out.bin");
    await expect(writeOutput(path, async (sink) => void sink.end("x"))).rejects.toBeInstanceOf(CannotWriteError);
  });
});

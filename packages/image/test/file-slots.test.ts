import { randomBytes } from "node:crypto";
import { open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileSlots } from "../src/file-slots.js";
import { cleanupAll, tempDir } from "./helpers.js";

afterAll(cleanupAll);

const MiB = 1024 * 1024;

async function readAll(bytes: Buffer, releaseAsYouGo: boolean): Promise<Buffer> {
  const file = join(await tempDir(), "stream");
  await writeFile(file, bytes);
  const slots = new FileSlots();
  const handle = await open(file, "r");
  try {
    const views: Uint8Array[] = [];
    let offset = 0;
    for await (const chunk of slots.read(handle)) {
      offset += chunk.length;
      if (releaseAsYouGo) {
        views.push(Uint8Array.prototype.slice.call(chunk));
        slots.release(offset);
      } else {
        views.push(chunk); // held: its slot must not be read into again until released
      }
    }
    expect(slots.bytes).toBe(bytes.length);
    return Buffer.concat(views);
  } finally {
    await handle.close();
    slots.close();
  }
}

describe("FileSlots", () => {
  it("yields a file's bytes in order, releasing as it goes", async () => {
    const bytes = randomBytes(27 * MiB + 123);
    expect((await readAll(bytes, true)).equals(bytes)).toBe(true);
  });

  it("never reads ahead into a slot the caller still holds", async () => {
    const bytes = randomBytes(35 * MiB);
    expect((await readAll(bytes, false)).equals(bytes)).toBe(true);
  });

  it("reads an empty file as nothing", async () => {
    expect((await readAll(Buffer.alloc(0), true)).length).toBe(0);
  });

  it("leaves its slots to the next reader, which reads its own file correctly", async () => {
    const first = randomBytes(20 * MiB);
    const second = randomBytes(9 * MiB + 7);
    expect((await readAll(first, true)).equals(first)).toBe(true);
    expect((await readAll(second, false)).equals(second)).toBe(true);
  });
});

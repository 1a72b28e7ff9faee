/**
 * The filesystem backend under hostile keys, planted symlinks and a full
 * disk: it never reads, writes or deletes outside its root, and a write that
 * runs out of space leaves nothing behind but a typed error.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  InvalidKeyError,
  LocalStore,
  ObjectNotFoundError,
  StoreRequestError,
  StoreUnavailableError,
} from "@xenfleet/store";
import { XenfleetError } from "@xenfleet/core";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

let base: string;
let root: string;
let outside: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "xenfleet-hostile-"));
  root = join(base, "store");
  outside = join(base, "outside");
  await mkdir(outside);
  await writeFile(join(outside, "secret"), "do not touch");
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Every file under `dir`, as relative paths. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name).slice(dir.length + 1));
  }
  return out.sort();
}

describe("hostile keys never leave the root", () => {
  const hostileSegment = fc.oneof(
    fc.constantFrom(
      "..",
      ".",
      "",
      "%2e%2e",
      "%2F",
      "..%2f",
      "\\..\\",
      "\0",
      "a\0b",
      "/",
      "//",
      "~",
      "$HOME",
      ".tmp",
      ".locks",
      "CON",
      " ",
      "a b",
      "é",
    ),
    fc.string({ maxLength: 12 }),
    fc.stringMatching(/^[A-Za-z0-9._-]{1,8}$/),
  );
  const hostileKey = fc.oneof(
    fc.array(hostileSegment, { minLength: 1, maxLength: 6 }).map((s) => s.join("/")),
    fc.array(hostileSegment, { minLength: 1, maxLength: 6 }).map((s) => "/" + s.join("/")),
    fc.constantFrom(
      "../outside/secret",
      "a/../../outside/secret",
      "/etc/passwd",
      "refs/../../x",
      "x".repeat(600),
      "a/".repeat(300) + "b",
    ),
    fc.string({ maxLength: 40 }),
  );

  it(`put, get, head, delete and list of any key touch nothing outside (${RUNS} runs)`, async () => {
    const store = await LocalStore.open(root);
    await fc.assert(
      fc.asyncProperty(hostileKey, async (key) => {
        const data = Buffer.from("payload");
        for (const call of [
          () => store.put(key, data),
          () => store.get(key),
          () => store.head(key),
          () => store.delete(key),
          () => store.putRef(key, data),
          () => store.getRef(key),
          async () => {
            for await (const _ of store.list(key)) void _;
          },
        ]) {
          const result = await call().then(
            () => undefined,
            (e: unknown) => e,
          );
          // Refused or not, only typed errors come out.
          if (result !== undefined) expect(result).toBeInstanceOf(XenfleetError);
        }
        expect(await readFile(join(outside, "secret"), "utf8")).toBe("do not touch");
        expect(await filesUnder(outside)).toEqual(["secret"]);
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 42) },
    );
    expect(await filesUnder(base)).toEqual(
      ["outside/secret", ...(await filesUnder(root)).map((f) => `store/${f}`)].sort(),
    );
  });
});

describe("symlinks planted inside the root are not followed out (regression: root escape through a directory symlink)", () => {
  it("a directory symlink: no write, read, head, list or delete through it", async () => {
    const store = await LocalStore.open(root);
    await symlink(outside, join(root, "evil"));
    await expect(store.put("evil/new", Buffer.from("x"))).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.put("evil/deeper/new", Buffer.from("x"))).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.get("evil/secret")).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.head("evil/secret")).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.delete("evil/secret")).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.putRef("x", Buffer.from("1"))).resolves.toBeDefined();
    const listed: string[] = [];
    for await (const entry of store.list("")) listed.push(entry.key);
    expect(listed).toEqual(["refs/x"]);
    await expect(
      (async () => {
        for await (const _ of store.list("evil/")) void _;
      })(),
    ).rejects.toBeInstanceOf(InvalidKeyError);
    expect(await filesUnder(outside)).toEqual(["secret"]);
    expect(await readFile(join(outside, "secret"), "utf8")).toBe("do not touch");
  });

  it("a refs directory symlink: refs are neither written nor read through it", async () => {
    const store = await LocalStore.open(root);
    await symlink(outside, join(root, "refs"));
    await expect(store.putRef("secret", Buffer.from("x"))).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.getRef("secret")).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.deleteRef("secret")).rejects.toBeInstanceOf(InvalidKeyError);
    expect(await readFile(join(outside, "secret"), "utf8")).toBe("do not touch");
  });

  it("a file symlink where an object should be is not an object", async () => {
    const store = await LocalStore.open(root);
    await mkdir(join(root, "data"));
    await symlink(join(outside, "secret"), join(root, "data", "link"));
    await expect(store.get("data/link")).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.getStream("data/link")).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await store.head("data/link")).toBeUndefined();
    await expect(store.put("data/link", Buffer.from("x"))).rejects.toBeInstanceOf(InvalidKeyError);
    await mkdir(join(root, "refs"));
    await symlink(join(outside, "secret"), join(root, "refs", "r"));
    expect(await store.getRef("r")).toBeUndefined();
    expect(await readFile(join(outside, "secret"), "utf8")).toBe("do not touch");
  });
});

/**
 * A full disk needs a small filesystem of its own: a tmpfs mounted by the
 * test (as root). Where mount is not allowed the suite is skipped, saying why.
 */
const run = promisify(execFile);
let tmpfs: string | undefined;
let mountProblem: string | undefined;
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-tmpfs-"));
  try {
    await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
    tmpfs = dir;
  } catch (error) {
    mountProblem = `cannot mount a tmpfs here (${(error as Error).message.split("\n")[0]})`;
    await rm(dir, { recursive: true, force: true });
  }
});
afterAll(async () => {
  if (tmpfs === undefined) return;
  await run("umount", [tmpfs]).catch(() => run("umount", ["-l", tmpfs!]));
  await rm(tmpfs, { recursive: true, force: true });
});

describe("a full disk", () => {
  it("ENOSPC is a typed error; no partial object is visible; temp files are gone; space freed means writes work again", async (ctx) => {
    if (tmpfs === undefined) return ctx.skip(mountProblem);
    const store = await LocalStore.open(join(tmpfs, "store"));
    const written: string[] = [];
    let full: unknown;
    for (let i = 0; i < 64 && full === undefined; i++) {
      const data = randomBytes(100 * 1024);
      const key = `data/${sha256(data)}`;
      try {
        await store.put(key, data);
        written.push(key);
      } catch (error) {
        full = error;
        expect(await store.head(key)).toBeUndefined();
        await expect(store.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      }
    }
    expect(full).toBeInstanceOf(StoreRequestError);
    expect((full as Error).message).toMatch(/ENOSPC/);
    expect(full).not.toBeInstanceOf(StoreUnavailableError);
    // A streamed put fails the same way, part-way through.
    async function* big() {
      for (let i = 0; i < 20; i++) yield randomBytes(64 * 1024);
    }
    await expect(store.put("data/streamed", big())).rejects.toBeInstanceOf(StoreRequestError);
    expect(await store.head("data/streamed")).toBeUndefined();
    // A ref that cannot be replaced keeps its old value.
    await store.delete(written.pop()!);
    await store.putRef("domains/a", Buffer.from("old"));
    await expect(store.putRef("domains/a", randomBytes(512 * 1024))).rejects.toBeInstanceOf(StoreRequestError);
    expect((await store.getRef("domains/a"))?.data.toString()).toBe("old");
    // Nothing half-written anywhere: every object is whole, no temp file is left.
    expect(await readdir(join(tmpfs, "store", ".tmp"))).toEqual([]);
    const listed: string[] = [];
    for await (const entry of store.list("data/")) {
      listed.push(entry.key);
      expect(sha256(await store.get(entry.key))).toBe(entry.key.slice("data/".length));
    }
    expect(listed.sort()).toEqual([...written].sort());
    // Room again: writes succeed.
    for (const key of written) await store.delete(key);
    const data = randomBytes(100 * 1024);
    expect(await store.put(`data/${sha256(data)}`, data)).toEqual({ created: true });
    expect(existsSync(join(tmpfs, "store", "data", sha256(data)))).toBe(true);
  });
});

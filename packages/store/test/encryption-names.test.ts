import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { NameCipher } from "../src/encryption/names.js";

const hex = (seed: string, digits = 64) => createHash("sha256").update(seed).digest("hex").slice(0, digits);

/** Random names built from the segments the image layer writes, and neighbours of them that test the rules' edges. */
function randomNames(count: number): string[] {
  let x = 12345;
  const rand = (n: number) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x % n;
  };
  const segment = (): string => {
    const id = hex(String(rand(50)));
    const choices = [
      "packs",
      "hooks",
      "a",
      "abc",
      "ab",
      "cd",
      id.slice(0, 2),
      id,
      id.slice(0, 24),
      id.slice(0, 16),
      id.slice(0, 18),
      `001796693066884-${id}`,
      `x-${id.slice(0, 20)}`,
      `web-${id.slice(0, 16)}.v2`,
    ];
    return choices[rand(choices.length)]!;
  };
  return Array.from({ length: count }, () => Array.from({ length: 1 + rand(4) }, segment).join("/"));
}

describe("NameCipher", () => {
  const cipher = new NameCipher(randomBytes(32));
  const names = [...new Set(randomNames(3000))];

  it("is one-to-one and length-preserving, and decode inverts encode", () => {
    const stored = names.map((n) => cipher.encode(n));
    expect(new Set(stored).size).toBe(names.length);
    for (const [i, name] of names.entries()) {
      expect(stored[i]!.length).toBe(name.length);
      expect(stored[i]!.split("/").map((s) => s.length)).toEqual(name.split("/").map((s) => s.length));
      expect(cipher.decode(stored[i]!)).toBe(name);
    }
  });

  it("keeps no permuted run: neither a content id nor its first 16 digits survives", () => {
    for (const name of names) {
      const stored = cipher.encode(name);
      for (const run of name.match(/[0-9a-f]{16,}/g) ?? [])
        if (run.length % 4 === 0) expect(stored).not.toContain(run.slice(0, 16));
    }
  });

  it("maps a fan-out directory to the first digits of its permuted id", () => {
    const id = hex("x");
    const [, fanout, stored] = cipher.encode(`packs/${id.slice(0, 2)}/${id}`).split("/");
    expect(fanout).toBe(stored!.slice(0, 2));
    expect(stored).not.toBe(id);
  });

  it("gives every prefix of a name a stored prefix of its stored name", () => {
    for (const name of names.slice(0, 400)) {
      const stored = cipher.encode(name);
      for (let end = 0; end <= name.length; end++)
        expect(stored.startsWith(cipher.storedPrefix(name.slice(0, end)))).toBe(true);
    }
  });

  it("lists a hook's blocks and a domain's image refs under one stored prefix", () => {
    expect(cipher.storedPrefix(`hooks/${hex("h", 24)}/`)).toBe(`hooks/${cipher.encode(hex("h", 24))}/`);
    expect(cipher.storedPrefix("images/web/")).toBe("images/web/");
    expect(cipher.storedPrefix("packs/ab/")).toBe("packs/");
  });

  it("keeps the creation time of an image ref, so a domain's refs still list oldest first", () => {
    const refs = ["000000000000001", "000000000000002", "000000000000010"].map(
      (t, i) => `images/web/${t}-${hex(String(i))}`,
    );
    const stored = refs.map((r) => cipher.encode(r));
    expect([...stored].sort()).toEqual(stored);
    expect(stored[0]!.startsWith("images/web/000000000000001-")).toBe(true);
  });

  it("depends on the key", () => {
    const id = `packs/${hex("p").slice(0, 2)}/${hex("p")}`;
    expect(new NameCipher(randomBytes(32)).encode(id)).not.toBe(cipher.encode(id));
  });
});

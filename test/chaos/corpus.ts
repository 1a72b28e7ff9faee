/**
 * The fuzz corpus of the fleet's own formats: interesting inputs under
 * corpus/<target>/, each replayed as a regression case on every run and used
 * as a fuzzing seed. A failing input found by a fuzz run is saved there as
 * crash-<hash>.bin, so it stays a test once the bug is fixed.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "corpus");

export function corpus(target: string): { name: string; bytes: Buffer }[] {
  const dir = join(ROOT, target);
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => !n.startsWith("."))
      .sort();
  } catch {
    return [];
  }
  return names.map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

export function saveCrash(target: string, bytes: Uint8Array): string {
  const dir = join(ROOT, target);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `crash-${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.bin`);
  writeFileSync(path, bytes);
  return path;
}

export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 500);
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20240610);

export interface Mutation {
  kind: "byte" | "word" | "cut" | "dup";
  at: number;
  value: number;
}

/** Byte flips, hostile 32-bit words, truncations and duplicated runs. */
export function mutate(base: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(base);
  for (const m of mutations) {
    const at = m.at % Math.max(1, bytes.length);
    if (m.kind === "byte") bytes[at] = m.value & 0xff;
    else if (m.kind === "word" && at + 4 <= bytes.length) bytes.writeUInt32LE(m.value >>> 0, at);
    else if (m.kind === "cut") bytes = bytes.subarray(0, at);
    else if (m.kind === "dup")
      bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + m.value), bytes.subarray(at)]);
  }
  return bytes;
}

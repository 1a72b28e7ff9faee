/**
 * The fuzz corpus: interesting inputs, one file each, under
 * test/corpus/<target>/. Every file is replayed as a regression case on each
 * test run and used as a fuzzing seed. A fuzz run that finds a failing input
 * saves it there (crash-<hash>.bin), so the next run keeps it as a test.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "corpus");

export function corpus(target: string): { name: string; bytes: Buffer }[] {
  const dir = join(ROOT, target);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

/** Keeps a failing input as a corpus file; returns its path. */
export function saveCrash(target: string, bytes: Uint8Array): string {
  const dir = join(ROOT, target);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `crash-${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.bin`);
  writeFileSync(path, bytes);
  return path;
}

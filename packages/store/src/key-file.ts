/**
 * Key files: a random 32-byte key-encryption key (KEK) that unlocks one or
 * more encrypted stores. One small JSON document, mode 0600:
 *
 *   {"format":"xenfleet-key-file","version":1,"id":"<16 hex>","key":"<base64 of 32 bytes>","created":"<ISO 8601>"}
 *
 * `id` is a fingerprint of the key (SHA-256 of a label and the key, first 8
 * bytes): a store keeps the wrapping this file opens under `keys/<id>`, so
 * unlocking reads one object, and a damaged file is told from a wrong one.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, open, readFile, unlink } from "node:fs/promises";
import { KeyFileError } from "./key-errors.js";

export const KEY_FILE_FORMAT = "xenfleet-key-file";
const KEY_FILE_VERSION = 1;
const KEK_BYTES = 32;

export interface KeyFile {
  readonly path: string;
  /** The fingerprint of the key: the id of the wrapping it opens in each store. */
  readonly id: string;
  readonly kek: Buffer;
}

export function keyFileId(kek: Uint8Array): string {
  return createHash("sha256").update("xenfleet key file id\0").update(kek).digest("hex").slice(0, 16);
}

export async function readKeyFile(path: string): Promise<KeyFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw unreadable(path, err);
  }
  return parseKeyFile(path, text);
}

/** readKeyFile, synchronously: for a service checking its configuration before it starts. */
export function readKeyFileSync(path: string): KeyFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw unreadable(path, err);
  }
  return parseKeyFile(path, text);
}

function unreadable(path: string, err: unknown): KeyFileError {
  const code = (err as NodeJS.ErrnoException).code;
  return new KeyFileError(path, code === "ENOENT" ? "no such file" : `cannot be read (${code ?? String(err)})`, {
    cause: err,
  });
}

function parseKeyFile(path: string, text: string): KeyFile {
  let doc: { format?: unknown; version?: unknown; id?: unknown; key?: unknown };
  try {
    doc = JSON.parse(text);
  } catch {
    throw new KeyFileError(path, "not a xenfleet key file (not JSON)");
  }
  if (doc === null || typeof doc !== "object" || doc.format !== KEY_FILE_FORMAT)
    throw new KeyFileError(path, `not a xenfleet key file (no "format": "${KEY_FILE_FORMAT}")`);
  if (doc.version !== KEY_FILE_VERSION)
    throw new KeyFileError(path, `version ${JSON.stringify(doc.version)} is not one this program reads (1)`);
  const kek = typeof doc.key === "string" ? Buffer.from(doc.key, "base64") : Buffer.alloc(0);
  if (kek.length !== KEK_BYTES) throw new KeyFileError(path, `its key is not ${KEK_BYTES} bytes of base64`);
  if (doc.id !== keyFileId(kek)) throw new KeyFileError(path, "damaged: its id is not its key's fingerprint");
  return { path, id: keyFileId(kek), kek };
}

/**
 * Writes a new key file at `path` with a fresh random key, readable by its
 * owner only. Never overwrites: a file already there is KeyFileError. The
 * file appears whole or not at all (written and synced under a temporary
 * name, then hard-linked into place, which fails if the name is taken).
 */
export async function createKeyFile(path: string): Promise<KeyFile> {
  const kek = randomBytes(KEK_BYTES);
  const id = keyFileId(kek);
  const doc = { format: KEY_FILE_FORMAT, version: KEY_FILE_VERSION, id, key: kek.toString("base64") };
  const text = `${JSON.stringify({ ...doc, created: new Date().toISOString() })}\n`;
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const handle = await open(temporary, "wx", 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temporary, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KeyFileError(path, code === "EEXIST" ? "already exists" : `cannot be written (${code ?? String(err)})`, {
      cause: err,
    });
  } finally {
    await unlink(temporary).catch(() => {});
  }
  return { path, id, kek };
}

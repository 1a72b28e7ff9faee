import { createHash } from "node:crypto";

/**
 * A ref's version on backends that have no native one (filesystem, memory):
 * the SHA-256 of its bytes. Writing the same value again keeps the version,
 * which is what compare-and-swap on a value needs.
 */
export function refVersion(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

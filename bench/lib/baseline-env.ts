/**
 * The environment restic and borg run with in the benchmarks: a fixed restic
 * password, unencrypted borg repositories, and their caches and state inside
 * the bench's temporary directory, so no run sees another's.
 */
import { join } from "node:path";

export function baselineToolEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    RESTIC_PASSWORD: "bench",
    RESTIC_CACHE_DIR: join(dir, "restic-cache"),
    BORG_PASSPHRASE: "",
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: "yes",
    BORG_RELOCATED_REPO_ACCESS_IS_OK: "yes",
    BORG_BASE_DIR: join(dir, "borg-base"),
  };
}

/**
 * Takes a store lock the way `gc` (exclusive) or an import (shared) does,
 * prints "locked", and keeps it (refreshing it) until killed: the holder a
 * chaos test kills with SIGKILL.
 *
 *     node --conditions=source --import tsx hold-store-lock.ts STORE_DIR exclusive|shared
 */
import { acquireLock } from "@xenfleet/image";
import { LocalStore } from "@xenfleet/store";

const [dir, kind] = process.argv.slice(2);
if (dir === undefined || (kind !== "exclusive" && kind !== "shared")) {
  process.stderr.write("usage: hold-store-lock.ts STORE_DIR exclusive|shared\n");
  process.exit(2);
}
const store = await LocalStore.open(dir);
await acquireLock(store, kind, { purpose: kind === "exclusive" ? "gc" : "import" });
process.stdout.write("locked\n");
setInterval(() => undefined, 60_000);

/**
 * Verifies or imports one stream file and prints, as one JSON line, how far
 * the process's resident memory rose above where it stood just before: the
 * peak (VmHWM) is reset first, so module loading does not count.
 *
 *     node --conditions=source --import tsx measure-memory.ts verify STREAM
 *     node --conditions=source --import tsx measure-memory.ts import STREAM STORE_DIR
 */
import { readFileSync, writeFileSync } from "node:fs";
import { verifyStream } from "@xenfleet/format";
import { importImage } from "@xenfleet/image";
import { LocalStore } from "@xenfleet/store";

const [what, stream, storeDir] = process.argv.slice(2);
if (stream === undefined || !(what === "verify" || (what === "import" && storeDir !== undefined))) {
  process.stderr.write("usage: measure-memory.ts verify STREAM | import STREAM STORE_DIR\n");
  process.exit(2);
}

/** A field of /proc/self/status, in bytes. */
function status(field: "VmRSS" | "VmHWM"): number {
  const line = readFileSync("/proc/self/status", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  if (line === undefined) throw new Error(`no ${field} in /proc/self/status`);
  return Number(/(\d+) kB/.exec(line)![1]) * 1024;
}

const store = what === "import" ? await LocalStore.open(storeDir!) : undefined;
// "5" resets the peak to the current resident size (Linux 4.0 and later).
writeFileSync("/proc/self/clear_refs", "5");
const before = status("VmRSS");
let result: unknown;
if (store === undefined) {
  const verified = await verifyStream(stream);
  result = verified.ok ? { ok: true, records: verified.summary.records } : { ok: false, error: verified.error.message };
} else {
  const imported = await importImage(store, stream, { domain: "memory", parent: null });
  result = { ok: true, imageId: imported.imageId, bytesTotal: imported.bytesTotal };
  await store.close();
}
const peak = status("VmHWM");
process.stdout.write(`${JSON.stringify({ before, peak, growth: peak - before, result })}\n`);

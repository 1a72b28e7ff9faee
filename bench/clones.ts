/**
 * Clones: 20 domains cloned from one template (256 MiB by default), each
 * with 2% private changes (pages scattered at random), imported as images
 * of 20 different domains, none with a parent: dedup across domains comes
 * from the hook index (sparse indexing) alone. Reports the bytes stored
 * against the ideal (unique non-zero pages x 4 KiB) and the time per clone.
 * One JSON line.
 *
 * Options (env): BENCH_CLONES_MIB (default 256), BENCH_CLONES_COUNT (20),
 * BENCH_CLONES_CHANGE (0.02).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { importImage } from "@xenfleet/image";
import { PAGE_SIZE } from "@xenfleet/native";
import { LocalStore } from "@xenfleet/store";
import { IdealBound, storeBytes, SyntheticDomain } from "./nightly.js";

const MiB = 1024 * 1024;
const round = (n: number, digits = 3) => Number(n.toFixed(digits));

const mib = Number(process.env.BENCH_CLONES_MIB ?? 256);
const count = Number(process.env.BENCH_CLONES_COUNT ?? 20);
const change = Number(process.env.BENCH_CLONES_CHANGE ?? 0.02);
const dir = await mkdtemp(join(tmpdir(), "xenfleet-bench-clones-"));
try {
  const template = new SyntheticDomain((mib * MiB) / PAGE_SIZE, 7);
  const pristine = Buffer.from(template.memory);
  const ideal = new IdealBound();
  const store = await LocalStore.open(join(dir, "store"));
  const file = join(dir, "domain.xl");

  await template.writeStream(file, "template", "00000000-0000-4000-8000-000000000000");
  ideal.add(template);
  const base = await importImage(store, file, { domain: "template" });
  const clones: Array<{ bytesNew: number; dedupPages: number; seconds: number }> = [];
  for (let c = 0; c < count; c++) {
    template.memory.set(pristine);
    template.scatter(Math.round(template.pages * change));
    await template.writeStream(file, `clone-${c}`, `00000000-0000-4000-8000-${String(c).padStart(12, "0")}`);
    ideal.add(template);
    const r = await importImage(store, file, { domain: `clone-${c}` });
    clones.push({ bytesNew: r.bytesNew, dedupPages: r.dedupPages, seconds: round(r.seconds) });
  }
  const stored = await storeBytes(store);
  const nonZero = template.pages - base.zeroPages;
  process.stdout.write(
    JSON.stringify({
      bench: "clones",
      templateMiB: mib,
      clones: count,
      change,
      storeBytes: stored,
      idealBytes: ideal.rawBytes,
      storeVsIdeal: round(stored / ideal.rawBytes),
      templateBytesNew: base.bytesNew,
      cloneBytesNewMean: Math.round(clones.reduce((s, c) => s + c.bytesNew, 0) / count),
      cloneDedupShareMean: round(clones.reduce((s, c) => s + c.dedupPages, 0) / count / nonZero),
      cloneSecondsMean: round(clones.reduce((s, c) => s + c.seconds, 0) / count),
      perClone: clones,
    }) + "\n",
  );
  await store.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}

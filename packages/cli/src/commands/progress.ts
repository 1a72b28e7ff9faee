/** Progress bars on a terminal (stderr), for batches being waited on or watched. */
import cliProgress from "cli-progress";
import type { BatchProgress } from "@xenfleet/fleet";

const FORMAT = "{batch} [{bar}] {value}/{total} saves, {failed} failed, {state}";

export function batchBar(batchId: string): { update(p: BatchProgress): void; stop(): void } {
  const bar = new cliProgress.SingleBar(
    { format: FORMAT, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(1, 0, { batch: batchId, failed: 0, state: "queued" });
  return {
    update: (p) => {
      bar.setTotal(Math.max(1, p.total));
      bar.update(p.finished, { batch: p.batchId, failed: p.failed, state: p.state });
    },
    stop: () => bar.stop(),
  };
}

/** One bar per batch, added as batches appear. */
export function batchBars(): { update(all: BatchProgress[]): void; stop(): void } {
  const multi = new cliProgress.MultiBar(
    { format: FORMAT, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    update: (all) => {
      for (const p of all) {
        let bar = bars.get(p.jobId);
        if (bar === undefined) {
          bar = multi.create(Math.max(1, p.total), 0, { batch: p.batchId, failed: 0, state: p.state });
          bars.set(p.jobId, bar);
        }
        bar.setTotal(Math.max(1, p.total));
        bar.update(p.finished, { batch: p.batchId, failed: p.failed, state: p.state });
      }
    },
    stop: () => multi.stop(),
  };
}

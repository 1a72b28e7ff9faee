import type { Writable } from "node:stream";
import { MigrationTimeoutError } from "../errors.js";
import type { LiveOptions, SaveMode, SaveReport } from "../hypervisor.js";
import { PAGE_SIZE } from "./content.js";
import type { SimDomain } from "./domain.js";
import { allPfns, SaveStreamBuilder } from "./stream-builder.js";

export const LIVE_DEFAULTS = {
  maxIterations: 5,
  dirtyPagesThreshold: 50,
  maxDowntimeMs: 300,
  timeoutAction: "force",
} as const;

/**
 * Writes a domain's image to `sink` and leaves the domain paused at the
 * point the image captures; the caller decides what happens next (destroy,
 * resume, or wait for a migration's commit).
 *
 * suspend/checkpoint: pause, one pass over all pages, vCPU state.
 * live: pass 0 sends every page while the guest keeps writing, with
 * log-dirty on; each further pass sends what was written during the previous
 * one. Pre-copy stops when the dirty set is small, when it could be sent
 * within `maxDowntimeMs` at the rate the sink accepted during the last pass,
 * after `maxIterations` passes in all, or at `timeoutMs`. Then the domain is
 * paused and the final pass sends the rest and the vCPU state.
 *
 * `onPaused` runs at the paused point, beside the final pass rather than
 * before it (a migration persists the paused state there); the report's
 * downtime includes waiting for it.
 */
export async function writeImage(
  d: SimDomain,
  sink: Writable,
  mode: SaveMode,
  live: LiveOptions = {},
  signal?: AbortSignal,
  onPaused?: () => Promise<void>,
): Promise<SaveReport> {
  const started = performance.now();
  const builder = new SaveStreamBuilder(sink, d.meta.type, d.meta.config, await d.platform(), signal);
  const pagesPerIteration: number[] = [];
  let stopReason: SaveReport["stopReason"];
  let pausedAt = 0;

  if (mode === "live") {
    const opts = { ...LIVE_DEFAULTS, ...live };
    await builder.begin();
    d.dirty.enableLogDirty();
    let toSend: Iterable<number> = allPfns(d.memory.pages);
    for (;;) {
      const passStart = performance.now();
      const bytesBefore = builder.bytes;
      pagesPerIteration.push(await builder.sendPages(d.memory, toSend, () => d.catchUp().then(() => undefined)));
      await d.catchUp();
      const passMs = Math.max(performance.now() - passStart, 0.001);
      const bytesPerMs = (builder.bytes - bytesBefore) / passMs;
      const dirty = d.dirty.dirtyCount();
      stopReason = stopCondition(dirty, bytesPerMs, pagesPerIteration.length, performance.now() - started, opts);
      if (stopReason) break;
      toSend = d.dirty.collect();
    }
    // The paused point: nothing changes in the guest from here on.
    await d.pause();
    pausedAt = performance.now();
  } else {
    await d.pause();
    pausedAt = performance.now();
  }
  const beside = onPaused?.();
  try {
    if (mode !== "live") await builder.begin();
    const finalPfns = mode === "live" ? d.dirty.collect() : allPfns(d.memory.pages);
    d.dirty.disableLogDirty();
    pagesPerIteration.push(await builder.sendPages(d.memory, finalPfns));
    await builder.finish();
  } finally {
    // Never return (or fail) while it still runs: the caller acts on the domain next.
    await beside;
  }
  const done = performance.now();

  return {
    mode,
    domid: d.meta.domid,
    uuid: d.meta.uuid,
    pagesPerIteration,
    iterations: pagesPerIteration.length,
    bytesWritten: builder.bytes,
    downtimeMs: done - pausedAt,
    durationMs: done - started,
    ...(stopReason ? { stopReason } : {}),
  };
}

function stopCondition(
  dirty: number,
  bytesPerMs: number,
  passes: number,
  elapsedMs: number,
  opts: Required<Omit<LiveOptions, "timeoutMs">> & { timeoutMs?: number },
): SaveReport["stopReason"] {
  if (dirty <= opts.dirtyPagesThreshold) return "dirty-threshold";
  if ((dirty * PAGE_SIZE) / bytesPerMs <= opts.maxDowntimeMs) return "downtime-target";
  if (opts.timeoutMs !== undefined && elapsedMs >= opts.timeoutMs) {
    if (opts.timeoutAction === "abort") throw new MigrationTimeoutError(opts.timeoutMs, passes);
    return "timeout";
  }
  // The final paused pass counts as one of maxIterations.
  if (passes + 1 >= opts.maxIterations) return "max-iterations";
  return undefined;
}

/**
 * Progress of work being waited for (--wait, `status`), on stderr: on a
 * terminal, a bar per item (a batch, a restore, each domain of an
 * evacuation) with bytes and rate where bytes move; otherwise one line each
 * time an item's state changes, so a log shows what happened and when.
 */
import cliProgress from "cli-progress";
import { formatSize } from "@xenfleet/core";
import type { BatchProgress } from "@xenfleet/fleet";

export interface Step {
  /** What the item is: "batch-1234", "restore of 1a2b3c4d5e6f on host-2", "web-1 host-1 -> host-3". */
  label: string;
  /** queued, active, migrating, completed, failed... */
  state: string;
  /** How far: bytes moved, or saves (domains...) finished. */
  done?: number;
  total?: number;
  /** "bytes" shows sizes and a rate; anything else is a count of that. */
  unit?: string;
}

export interface Tracker {
  update(key: string, step: Step): void;
  stop(): void;
}

const FORMAT = "{label} [{bar}] {amount} {rate} {state}";

export function tracker(stream: NodeJS.WriteStream = process.stderr): Tracker {
  return stream.isTTY ? barTracker(stream) : lineTracker(stream);
}

/** One line per state change. */
function lineTracker(stream: NodeJS.WritableStream): Tracker {
  const states = new Map<string, string>();
  return {
    update(key, step) {
      if (states.get(key) === step.state) return;
      states.set(key, step.state);
      // Bytes are read from throttled progress: at the end they lag, and the result says how many moved.
      const over = step.unit === "bytes" && /^(completed|failed|done)/.test(step.state);
      const amount = step.total !== undefined && step.done !== undefined && !over ? ` (${amountOf(step)})` : "";
      stream.write(`${step.label}: ${step.state}${amount}\n`);
    },
    stop() {},
  };
}

function barTracker(stream: NodeJS.WritableStream): Tracker {
  const multi = new cliProgress.MultiBar(
    { format: FORMAT, stream, hideCursor: true, clearOnComplete: false, barsize: 24 },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, { bar: cliProgress.SingleBar; rate: Rate }>();
  let stopped = false;
  return {
    update(key, step) {
      if (stopped) return;
      let entry = bars.get(key);
      const payload = (rate: Rate) => ({
        label: step.label,
        state: step.state,
        amount: amountOf(step),
        rate: step.unit === "bytes" && step.done !== undefined ? rate.text(step.done) : "",
      });
      if (entry === undefined) {
        const rate = new Rate();
        entry = { bar: multi.create(Math.max(1, step.total ?? 1), step.done ?? 0, payload(rate)), rate };
        bars.set(key, entry);
      }
      entry.bar.setTotal(Math.max(1, step.total ?? 1));
      entry.bar.update(step.done ?? 0, payload(entry.rate));
    },
    stop() {
      if (!stopped) multi.stop();
      stopped = true;
    },
  };
}

/** A batch as a tracker shows it: saves finished of how many. */
export function batchStep(p: BatchProgress): Step {
  return { label: `batch ${p.batchId}`, state: p.state, done: p.finished, total: p.total, unit: "saves" };
}

function amountOf(step: Step): string {
  if (step.done === undefined) return "";
  if (step.unit === "bytes")
    return step.total === undefined ? formatSize(step.done) : `${formatSize(step.done)} of ${formatSize(step.total)}`;
  return `${step.done}/${step.total ?? "?"} ${step.unit ?? ""}`.trimEnd();
}

/** Bytes per second since the first reading (reset when the count goes back: a new attempt). */
class Rate {
  private first: { at: number; bytes: number } | undefined;
  text(bytes: number): string {
    const now = Date.now();
    if (this.first === undefined || bytes < this.first.bytes) this.first = { at: now, bytes };
    const elapsed = (now - this.first.at) / 1000;
    return elapsed < 0.5 ? "" : `${formatSize(Math.round((bytes - this.first.bytes) / elapsed))}/s`;
  }
}

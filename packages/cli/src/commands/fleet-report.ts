/** How the fleet commands print a finished piece of work: one JSON object, or a few lines. */
import type { BatchReport } from "@xenfleet/fleet";
import { mib } from "./fleet-options.js";

/** The final report of work started by a command (`--wait`). */
export interface WorkReport {
  saved: number;
  failed: number;
  bytesTotal: number;
  bytesNew: number;
  seconds: number;
  failures: Array<{ host: string; domain: string; reason: string }>;
  [extra: string]: unknown;
}

export function fromBatch(report: BatchReport): WorkReport {
  return { ...report };
}

export function printReport(report: WorkReport, json: boolean | undefined): void {
  if (json) {
    process.stdout.write(JSON.stringify(report) + "\n");
    return;
  }
  const ratio = report.bytesTotal > 0 ? ` (${((100 * report.bytesNew) / report.bytesTotal).toFixed(1)}% new)` : "";
  process.stdout.write(
    `saved ${report.saved}, failed ${report.failed}, ${mib(report.bytesTotal)} total, ${mib(report.bytesNew)} new${ratio}, ${report.seconds.toFixed(1)} s\n`,
  );
  for (const f of report.failures) process.stdout.write(`  failed: ${f.host} ${f.domain}: ${f.reason}\n`);
}

/** The report of saves a command waited for (`save --wait`, `batch-save --wait`): its JSON fields and its text. */
import { formatDuration, formatSize } from "@xenfleet/core";
import type { BatchReport } from "@xenfleet/fleet";

export interface WorkReport {
  saved: number;
  failed: number;
  bytesTotal: number;
  bytesNew: number;
  seconds: number;
  failures: Array<{ host: string; uuid: string; reason: string }>;
  /** Domains not tried (their host was down): listed, but not failures of the saves that ran. */
  notSaved?: Array<{ host: string; domain: string; reason: string }>;
  [extra: string]: unknown;
}

/** A batch's report; its failures name the domain by uuid. */
export function fromBatch(report: BatchReport): WorkReport {
  return {
    batchId: report.batchId,
    saved: report.saved,
    failed: report.failed,
    bytesTotal: report.bytesTotal,
    bytesNew: report.bytesNew,
    seconds: report.seconds,
    failures: report.failures.map((f) => ({ host: f.host, uuid: f.domain, reason: f.reason })),
    notSaved: report.notSaved.map((n) => ({ host: n.host, domain: n.domain, reason: n.reason })),
  };
}

export function reportText(report: WorkReport): string {
  const ratio = report.bytesTotal > 0 ? ` (${((100 * report.bytesNew) / report.bytesTotal).toFixed(1)}% new)` : "";
  return [
    `saved ${report.saved}, failed ${report.failed}, ${formatSize(report.bytesTotal)} total, ${formatSize(report.bytesNew)} new${ratio}, ${formatDuration(report.seconds * 1000)}`,
    ...report.failures.map((f) => `  failed: ${f.host} ${f.uuid}: ${f.reason}`),
    ...(report.notSaved ?? []).map((n) => `  not saved: ${n.host} ${n.domain}: ${n.reason}`),
  ].join("\n");
}

/** How pages write sizes, times and ages. */
import { formatSize } from "@xenfleet/core";

export const size = (bytes: number | null | undefined): string => (bytes == null ? "-" : formatSize(bytes));

/** An ISO time without milliseconds, or "-". */
export function when(at: number | string | Date | null | undefined): string {
  if (at === null || at === undefined) return "-";
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** "12 s", "5 min", "3 h", "2 d". */
export function age(seconds: number | undefined): string {
  if (seconds === undefined) return "-";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

/**
 * Progress reports from a stream that calls back per chunk, cut down to one
 * every PROGRESS_INTERVAL_MS: each report is a Redis write.
 */
export const PROGRESS_INTERVAL_MS = 500;

/** `report`, called at most once per interval; the calls in between are dropped. */
export function throttled<A>(report: (value: A) => void, intervalMs = PROGRESS_INTERVAL_MS): (value: A) => void {
  let last = 0;
  return (value) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    report(value);
  };
}

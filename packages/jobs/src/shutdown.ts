/** Turning process signals into the AbortSignal the worker harness listens to. */

/**
 * An AbortSignal aborted by the first SIGTERM or SIGINT. A second signal
 * means the operator is done waiting: the process exits at once (jobs in
 * hand come back through stalled-job recovery).
 */
export function terminationSignal(signals: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"]): AbortSignal {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(128 + (sig === "SIGINT" ? 2 : 15));
    controller.abort(new Error(`received ${sig}`));
  };
  for (const sig of signals) process.on(sig, onSignal);
  return controller.signal;
}

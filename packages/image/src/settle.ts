/**
 * Waits for every promise, then returns their values in order or throws the
 * first failure. Unlike Promise.all it never returns while some are still
 * running: a failed import must not go on to release its lock (or let its
 * caller retry) while puts it started are still landing in the store.
 */
export async function settleAll<T>(promises: ReadonlyArray<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

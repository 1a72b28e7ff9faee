/**
 * Runs `fn` over `items` with at most `limit` calls in flight, in order of
 * the items; the first failure rejects (calls already started still finish).
 * For I/O over many objects, where one at a time leaves a store's latency
 * unused and all at once would exhaust its connections.
 */
export async function forEachLimited<T>(
  items: Iterable<T>,
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const iterator = items[Symbol.iterator]();
  const worker = async (): Promise<void> => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) await fn(next.value);
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
}

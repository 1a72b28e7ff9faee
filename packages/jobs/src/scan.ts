/**
 * SCAN over every key matching a pattern, on one server or a Redis Cluster.
 * A cluster has no SCAN of its own (each node scans only its own keys), so
 * on a cluster every master is scanned in turn. A pattern that begins with
 * xenfleet's prefix (keys.all, keys.migrations) matches keys of one hash
 * slot only, so a batch can go to one DEL even on a cluster.
 */
import { Cluster, type Redis } from "ioredis";
import type { RedisClient } from "./connection.js";

/** Yields the matching keys a batch at a time (each batch non-empty); a key may come twice, as SCAN promises. */
export async function* scanKeys(client: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  const nodes: Redis[] = client instanceof Cluster ? client.nodes("master") : [client];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, found] = await node.scan(cursor, "MATCH", pattern, "COUNT", count);
      cursor = next;
      if (found.length > 0) yield found;
    } while (cursor !== "0");
  }
}

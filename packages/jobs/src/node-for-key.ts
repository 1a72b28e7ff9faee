/**
 * The server that holds a key. Commands without keys (INFO, WAIT) go to
 * any node of a Redis Cluster; one that must reach the key's own master
 * (WAIT for the replicas of a write just made there) goes through this.
 */
import { Cluster, type Redis } from "ioredis";
import type { RedisClient } from "./connection.js";

/**
 * The connection to the master serving `key`: the client itself when it is
 * one server, else the cluster's own connection to that master (WAIT counts
 * the writes of the connection it is sent on, and the cluster wrote there).
 */
export async function nodeForKey(client: RedisClient, key: string): Promise<Redis> {
  if (!(client instanceof Cluster)) return client;
  const slot = Number(await client.cluster("KEYSLOT", key));
  const address = client.slots[slot]?.[0];
  const node = client.nodes("master").find((n) => `${n.options.host}:${n.options.port}` === address);
  if (node === undefined) throw new Error(`no master of the cluster is known to serve slot ${slot} (${key})`);
  return node;
}

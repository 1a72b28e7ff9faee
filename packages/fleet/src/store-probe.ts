/**
 * Whether a store can be reached now, for a service's /healthz: cheap and
 * bounded in time. A filesystem store that was a directory must still be one
 * (a store whose disk was unmounted or whose directory was removed lists as
 * empty, which would look healthy); one not created yet (a new fleet's,
 * before its first save writes it) is not a failure. Any other store
 * answers one listing request.
 */
import { stat } from "node:fs/promises";
import type { Stores } from "./stores.js";

export async function probeStore(stores: Stores, name: string, timeoutMs: number): Promise<void> {
  const config = stores.config(name);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`store ${name} did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([reach(stores, name, config), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The filesystem stores each Stores has seen as directories. */
const seenDirectories = new WeakMap<Stores, Set<string>>();

async function reach(stores: Stores, name: string, config: ReturnType<Stores["config"]>): Promise<void> {
  if (config.kind === "file") {
    const seen = seenDirectories.get(stores) ?? new Set<string>();
    seenDirectories.set(stores, seen);
    const info = await stat(config.root).catch(() => undefined);
    if (info?.isDirectory()) seen.add(name);
    else if (info !== undefined || seen.has(name)) throw new Error(`store ${name}: ${config.root} is not a directory`);
    return;
  }
  try {
    // One page of the listing is one request; its first entry is enough.
    for await (const _ of (await stores.get(name)).list("refs/")) break;
  } catch (err) {
    throw new Error(`store ${name}: ${(err as Error).message}`);
  }
}

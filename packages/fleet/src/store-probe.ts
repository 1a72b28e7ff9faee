/**
 * Whether a store can be reached now, for a service's /healthz: cheap and
 * bounded in time. A filesystem store must still be a directory (a store
 * whose disk was unmounted or whose directory was removed lists as empty,
 * which would look healthy); any other store answers one listing request.
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

async function reach(stores: Stores, name: string, config: ReturnType<Stores["config"]>): Promise<void> {
  if (config.kind === "file") {
    const info = await stat(config.root).catch(() => undefined);
    if (!info?.isDirectory()) throw new Error(`store ${name}: ${config.root} is not a directory`);
    return;
  }
  try {
    // One page of the listing is one request; its first entry is enough.
    for await (const _ of (await stores.get(name)).list("refs/")) break;
  } catch (err) {
    throw new Error(`store ${name}: ${(err as Error).message}`);
  }
}

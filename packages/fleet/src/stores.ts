import { openStore, type ObjectStore, type StoreEnv } from "@xenfleet/store";

/**
 * The stores a worker has opened, by URL. A job names its store by URL
 * (never with credentials); the worker brings credentials from its own
 * configuration and keeps one client per store for its lifetime.
 */
export class Stores {
  private readonly open = new Map<string, Promise<ObjectStore>>();

  constructor(private readonly env: StoreEnv) {}

  get(url: string): Promise<ObjectStore> {
    let store = this.open.get(url);
    if (store === undefined) {
      store = openStore(url, this.env);
      // A failed open is not cached: the next job tries again.
      store.catch(() => this.open.delete(url));
      this.open.set(url, store);
    }
    return store;
  }

  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(all.map(async (s) => (await s).close()));
  }
}

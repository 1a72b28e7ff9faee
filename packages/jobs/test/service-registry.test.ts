import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  keys,
  listServices,
  newServiceEntry,
  registerService,
  runServiceRegistration,
  unregisterService,
} from "../src/index.js";
import { deletePrefix, redis, testPrefix, until } from "./helpers.js";

describe("service registry", () => {
  const prefix = testPrefix();
  const conn = redis();

  afterEach(async () => {
    await deletePrefix(conn, prefix);
  });
  afterAll(async () => {
    await conn.quit();
  });

  it("lists live services with their metrics URLs and drops one whose registration lapsed", async () => {
    const save = newServiceEntry({ service: "save-worker", host: "h1", metricsUrl: "http://127.0.0.1:4000/metrics" });
    const compress = newServiceEntry({ service: "compress-worker" });
    await registerService(conn, prefix, save, 60_000);
    await registerService(conn, prefix, compress, 200);
    expect(await listServices(conn, prefix)).toEqual([compress, save]);
    await until(
      "the lapse",
      async () => (await conn.exists(keys.serviceAlive(prefix, compress.id))) === 0 || undefined,
    );
    expect(await listServices(conn, prefix)).toEqual([save]);
    // The lapsed entry is gone from the registry itself, not only from the listing.
    expect(await conn.hkeys(keys.services(prefix))).toEqual([save.id]);
    await unregisterService(conn, prefix, save.id);
    expect(await listServices(conn, prefix)).toEqual([]);
  });

  it("keeps an entry registered while its loop runs and removes it when the loop stops", async () => {
    const entry = newServiceEntry({ service: "controller", metricsUrl: "http://127.0.0.1:4001/metrics" });
    const stop = new AbortController();
    const loop = runServiceRegistration({ redis: conn, prefix, entry, intervalMs: 50, signal: stop.signal });
    await until("the registration", async () => (await listServices(conn, prefix)).length === 1 || undefined);
    // Alive for three intervals and renewed: still there well after the first lifetime.
    await new Promise((r) => setTimeout(r, 300));
    expect((await listServices(conn, prefix)).map((s) => s.id)).toEqual([entry.id]);
    stop.abort();
    await loop;
    expect(await listServices(conn, prefix)).toEqual([]);
  });

  it("skips an entry it cannot read", async () => {
    await conn.hset(keys.services(prefix), "abc", "{not json");
    await conn.set(keys.serviceAlive(prefix, "abc"), "1");
    expect(await listServices(conn, prefix)).toEqual([]);
  });
});

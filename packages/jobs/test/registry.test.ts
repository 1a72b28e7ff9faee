import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  clearDraining,
  getHost,
  heartbeat,
  isDraining,
  keys,
  listHosts,
  markDraining,
  removeHost,
  registryClock,
  runHeartbeat,
  updateHostDomains,
  type HostInfo,
} from "../src/index.js";
import { deletePrefix, redis, testPrefix, until, UUID_A } from "./helpers.js";

const info = (id: string): HostInfo => ({
  v: 1,
  id,
  address: `${id}.example`,
  memoryTotal: 64 * 2 ** 30,
  memoryFree: 16 * 2 ** 30,
  tags: ["ssd"],
  domains: [{ uuid: UUID_A, name: "web-1", memory: 2 ** 30, state: "running" }],
});

describe("host registry", () => {
  const prefix = testPrefix();
  const conn = redis();

  afterEach(async () => {
    await deletePrefix(conn, prefix);
  });

  it("shows a host as down once its heartbeat lapses, keeping what it last reported", async () => {
    await heartbeat(conn, prefix, info("h1"), 60_000);
    await heartbeat(conn, prefix, info("h2"), 300);
    expect((await listHosts(conn, prefix)).map((h) => [h.id, h.state])).toEqual([
      ["h1", "up"],
      ["h2", "up"],
    ]);

    const h2 = await until("h2 to go down", async () => {
      const h = await getHost(conn, prefix, "h2");
      return h?.state === "down" ? h : undefined;
    });
    expect(h2.info).toEqual(info("h2"));
    expect((await getHost(conn, prefix, "h1"))?.state).toBe("up");

    // A beat brings it back.
    await heartbeat(conn, prefix, info("h2"), 60_000);
    expect((await getHost(conn, prefix, "h2"))?.state).toBe("up");
  });

  it("marks hosts draining, and a draining host that dies is down", async () => {
    await heartbeat(conn, prefix, info("h1"), 60_000);
    expect(await isDraining(conn, prefix, "h1")).toBe(false);
    await markDraining(conn, prefix, "h1");
    expect(await isDraining(conn, prefix, "h1")).toBe(true);
    expect(await getHost(conn, prefix, "h1")).toMatchObject({ state: "draining", draining: true });

    await conn.del(keys.alive(prefix, "h1"));
    expect(await getHost(conn, prefix, "h1")).toMatchObject({ state: "down", draining: true });

    await clearDraining(conn, prefix, "h1");
    expect(await isDraining(conn, prefix, "h1")).toBe(false);
  });

  it("refuses a bad registration and reports an unreadable stored one", async () => {
    await expect(heartbeat(conn, prefix, { ...info("h1"), id: "h1:evil" }, 1000)).rejects.toThrow();
    await expect(heartbeat(conn, prefix, { ...info("h1"), memoryFree: -1 }, 1000)).rejects.toThrow();

    await heartbeat(conn, prefix, info("h3"), 60_000);
    await conn.set(keys.host(prefix, "h3"), JSON.stringify({ ...info("h3"), v: 2 }));
    const h3 = await getHost(conn, prefix, "h3");
    expect(h3).toMatchObject({ state: "up", info: null });
    expect(h3?.problem).toMatch(/version 2/);

    await removeHost(conn, prefix, "h3");
    expect(await getHost(conn, prefix, "h3")).toBeUndefined();
  });

  it("takes a worker's domain list between beats, and no beat read before it brings the old list back", async () => {
    await heartbeat(conn, prefix, info("h1"), 60_000, 1000);
    const moved = {
      uuid: "7b3e2f1c-0d4a-4e5b-9c6d-1a2b3c4d5e6f",
      name: "db-1",
      memory: 2 ** 30,
      state: "running",
    } as const;
    expect(await updateHostDomains(conn, prefix, "h1", { memoryFree: 2 ** 30, domains: [moved], readAt: 2000 })).toBe(
      true,
    );
    // Address and tags stay as the host agent registered them.
    expect((await getHost(conn, prefix, "h1"))?.info).toEqual({ ...info("h1"), memoryFree: 2 ** 30, domains: [moved] });

    // A beat that read the hypervisor before the update renews the host, and leaves the list alone.
    await conn.del(keys.alive(prefix, "h1"));
    await heartbeat(conn, prefix, info("h1"), 60_000, 1500);
    const after = await getHost(conn, prefix, "h1");
    expect(after?.state).toBe("up");
    expect(after?.info?.domains).toEqual([moved]);
    // A later one is the truth again.
    await heartbeat(conn, prefix, info("h1"), 60_000, 2500);
    expect((await getHost(conn, prefix, "h1"))?.info).toEqual(info("h1"));
  });

  it("never registers a host, nor makes one alive, from a worker's domain list", async () => {
    expect(
      await updateHostDomains(conn, prefix, "h9", {
        memoryFree: 1,
        domains: [],
        readAt: await registryClock(conn, prefix),
      }),
    ).toBe(false);
    expect(await listHosts(conn, prefix)).toEqual([]);
    await heartbeat(conn, prefix, info("h1"), 60_000);
    await conn.del(keys.alive(prefix, "h1"));
    expect(
      await updateHostDomains(conn, prefix, "h1", {
        memoryFree: 1,
        domains: [],
        readAt: await registryClock(conn, prefix),
      }),
    ).toBe(true);
    expect((await getHost(conn, prefix, "h1"))?.state).toBe("down");
  });

  it("keeps beating until told to stop", async () => {
    const stop = new AbortController();
    let beats = 0;
    const loop = runHeartbeat({
      redis: conn,
      prefix,
      intervalMs: 50,
      ttlMs: 5_000,
      signal: stop.signal,
      read: async () => {
        beats++;
        return { ...info("h4"), memoryFree: beats };
      },
    });
    await until(
      "three beats",
      async () => ((await getHost(conn, prefix, "h4"))?.info?.memoryFree ?? 0) >= 3 || undefined,
    );
    stop.abort();
    await loop;
    const after = beats;
    expect((await getHost(conn, prefix, "h4"))?.state).toBe("up");
    await new Promise((r) => setTimeout(r, 150));
    expect(beats).toBe(after);
  });

  afterAll(async () => {
    await conn.quit();
  });
});

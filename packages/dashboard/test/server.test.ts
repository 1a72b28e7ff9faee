/**
 * The dashboard's server against the real Redis (a prefix of its own): the
 * token on every request, the login session and its cookie, CSRF on the
 * drain and undrain buttons, and escaping of what hosts report.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Stores } from "@xenfleet/fleet";
import { ConfigError, heartbeat, isDraining } from "@xenfleet/jobs";
import { REDIS_URL, testRedis } from "@xenfleet/jobs/testing";
import { startDashboard, type Dashboard } from "../src/index.js";

const TOKEN = "a-test-token-of-some-length";
const UUID = "6f1c2d3e-0000-4000-8000-000000000001";

describe("the dashboard server", () => {
  const t = testRedis("producer", "xfdash");
  const dir = mkdtempSync(join(tmpdir(), "xenfleet-dashboard-"));
  const stores = new Stores({ XENFLEET_STORE: pathToFileURL(join(dir, "store")).href });
  let dashboard: Dashboard;
  const url = (path: string) => new URL(path, dashboard.url).href;
  const bearer = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    await heartbeat(
      t.redis,
      t.prefix,
      {
        v: 1,
        id: "host-1",
        address: "127.0.0.1",
        memoryTotal: 2 ** 30,
        memoryFree: 2 ** 29,
        tags: [],
        domains: [{ uuid: UUID, name: "<script>alert(1)</script>", memory: 2 ** 26, state: "running" }],
      },
      60_000,
    );
    dashboard = await startDashboard({ redisUrl: REDIS_URL, prefix: t.prefix, stores, token: TOKEN, port: 0 });
  });

  afterAll(async () => {
    await dashboard?.close();
    await stores.close();
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses to start without a token of some length", async () => {
    await expect(
      startDashboard({ redisUrl: REDIS_URL, prefix: t.prefix, stores, token: "short", port: 0 }),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it("listens on 127.0.0.1 unless told otherwise", () => {
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it("answers 401 without the token, or with a wrong one", async () => {
    for (const path of ["/", "/hosts", "/domains", "/batches", "/evacuations", "/images"]) {
      expect((await fetch(url(path), { redirect: "manual" })).status, path).toBe(401);
    }
    expect((await fetch(url("/hosts"), { headers: { authorization: "Bearer not-the-token" } })).status).toBe(401);
    const post = await fetch(url("/hosts/drain"), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "host=host-1",
    });
    expect(post.status).toBe(401);
    expect(await isDraining(t.redis, t.prefix, "host-1")).toBe(false);
  });

  it("serves every page to a bearer of the token, escaping what hosts report", async () => {
    const hosts = await fetch(url("/hosts"), { headers: bearer });
    expect(hosts.status).toBe(200);
    expect(await hosts.text()).toContain('data-host="host-1"');
    const domains = await (await fetch(url("/domains"), { headers: bearer })).text();
    expect(domains).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(domains).not.toContain("<script>alert");
    for (const path of ["/batches", "/evacuations", "/images"])
      expect((await fetch(url(path), { headers: bearer })).status, path).toBe(200);
    // The live region alone, for the page script.
    const fragment = await (await fetch(url("/hosts"), { headers: { ...bearer, "x-fragment": "1" } })).text();
    expect(fragment).toContain('data-host="host-1"');
    expect(fragment).not.toContain("<nav>");
  });

  it("mounts bull-board read-only at /queues, behind the token", async () => {
    expect((await fetch(url("/queues/"))).status).toBe(401);
    const page = await fetch(url("/queues/"), { headers: bearer });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/bull-board|Bull Dashboard/i);
    const api = await fetch(url("/queues/api/queues"), { headers: bearer });
    expect(api.status).toBe(200);
    const { queues } = (await api.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
    expect(queues.map((q) => q.name)).toEqual(
      expect.arrayContaining(["controller", "compress", "save@host-1", "migrate-recv@host-1"]),
    );
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    const change = await fetch(url("/queues/api/queues/controller/pause"), { method: "PUT", headers: bearer });
    expect(change.status).toBe(405);
  });

  it("logs in with the token into an HttpOnly SameSite=Strict session, and drains only with the CSRF token", async () => {
    const form = { "content-type": "application/x-www-form-urlencoded" };
    const wrong = await fetch(url("/login"), { method: "POST", headers: form, body: "token=nope", redirect: "manual" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();

    const login = await fetch(url("/login"), {
      method: "POST",
      headers: form,
      body: `token=${TOKEN}`,
      redirect: "manual",
    });
    expect(login.status).toBe(303);
    const cookie = login.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const session = { cookie: cookie.split(";")[0]! };

    const page = await (await fetch(url("/hosts"), { headers: session })).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
    expect(csrf).toBeDefined();

    const without = await fetch(url("/hosts/drain"), {
      method: "POST",
      headers: { ...session, ...form },
      body: "host=host-1",
      redirect: "manual",
    });
    expect(without.status).toBe(403);
    expect(await isDraining(t.redis, t.prefix, "host-1")).toBe(false);

    const drain = await fetch(url("/hosts/drain"), {
      method: "POST",
      headers: { ...session, ...form },
      body: `host=host-1&_csrf=${csrf}`,
      redirect: "manual",
    });
    expect(drain.status).toBe(303);
    expect(await isDraining(t.redis, t.prefix, "host-1")).toBe(true);
    expect(await (await fetch(url("/hosts"), { headers: session })).text()).toContain("Undrain host-1");

    const undrain = await fetch(url("/hosts/undrain"), {
      method: "POST",
      headers: { ...session, ...form },
      body: `host=host-1&_csrf=${csrf}`,
      redirect: "manual",
    });
    expect(undrain.status).toBe(303);
    expect(await isDraining(t.redis, t.prefix, "host-1")).toBe(false);

    const unknown = await fetch(url("/hosts/drain"), {
      method: "POST",
      headers: { ...session, ...form },
      body: `host=host-9&_csrf=${csrf}`,
      redirect: "manual",
    });
    expect(unknown.status).toBe(404);

    const logout = await fetch(url("/logout"), {
      method: "POST",
      headers: { ...session, ...form },
      body: `_csrf=${csrf}`,
      redirect: "manual",
    });
    expect(logout.status).toBe(303);
    expect((await fetch(url("/hosts"), { headers: session })).status).toBe(401);
  });
});

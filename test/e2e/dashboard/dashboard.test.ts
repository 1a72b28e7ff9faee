/**
 * The dashboard in a browser (Debian's Chromium, driven by playwright-core)
 * against an embedded fleet started by `xenfleet up --detach` with a Redis
 * prefix of its own: every host listed, a batch's progress reaching done
 * without a reload, the queues in bull-board, a host drained from its
 * button, an evacuation's domains finishing, and no page without the token. Screenshots of each page go to
 * test/artifacts/dashboard (not committed).
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBatch } from "@xenfleet/fleet";
import { isDraining } from "@xenfleet/jobs";
import type { RedisClient } from "@xenfleet/jobs";
import { cli, deletePrefix, fileUrl, redis, REDIS_URL, ROOT, tempDir, testPrefix } from "../helpers.js";

const TOKEN = "e2e-dashboard-token-0123456789";
const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(ROOT, "test", "artifacts", "dashboard");
/** Waits in the page: the fleet's work is real, and the page polls every 2 s. */
const PAGE_WAIT = 120_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("the dashboard in a browser, against an embedded fleet", () => {
  const prefix = testPrefix();
  const dir = tempDir();
  const storeUrl = fileUrl(join(dir, "store"));
  const env = { XENFLEET_STORE: storeUrl, XENFLEET_DASHBOARD_TOKEN: TOKEN };
  const fleet = ["--redis", REDIS_URL, "--prefix", prefix];
  let base = "";
  let browser: Browser | undefined;
  let page: Page;
  let conn: RedisClient;

  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    conn = redis();
    const port = await freePort();
    const up = await cli(
      [
        "up",
        ...fleet,
        "--store",
        storeUrl,
        "--detach",
        "--json",
        "--hosts",
        "3",
        "--domains",
        "2",
        "--memory",
        "8M",
        "--dirty-rate",
        "20",
        "--state-dir",
        dir,
        "--dashboard-port",
        String(port),
      ],
      env,
    );
    expect(up.code, up.stderr + up.stdout).toBe(0);
    const started = JSON.parse(up.stdout) as { dashboard: { url: string; token?: string } };
    // The token came from the environment: it is not printed.
    expect(started.dashboard).toEqual({ url: `http://127.0.0.1:${port}/` });
    base = started.dashboard.url;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    if (existsSync(join(dir, `up-${prefix}.pid`))) await cli(["down", "--prefix", prefix, "--state-dir", dir], env);
    await deletePrefix(conn, prefix);
    await conn.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers 401 to a request without the token", async () => {
    for (const path of ["hosts", "batches", "images"]) expect((await fetch(new URL(path, base))).status).toBe(401);
    const drain = await fetch(new URL("hosts/drain", base), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "host=host-1",
    });
    expect(drain.status).toBe(401);
    expect(await isDraining(conn, prefix, "host-1")).toBe(false);
  });

  it("logs in with the token and lists every host up", async () => {
    const refused = await page.goto(new URL("hosts", base).href);
    expect(refused?.status()).toBe(401);
    await page.getByLabel("Token").fill(TOKEN);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(/\/hosts$/);
    for (const host of ["host-1", "host-2", "host-3"]) {
      const row = page.locator(`tr[data-host="${host}"]`);
      await expect.poll(() => row.locator("td").nth(1).textContent(), { timeout: PAGE_WAIT }).toBe("up");
      expect(await row.locator("td").nth(4).textContent()).toBe("2");
    }
    await shot("hosts");
  });

  it("shows a batch's progress reach done without a reload", async () => {
    await page.goto(new URL("batches", base).href);
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
    const batch = await startBatch(conn, prefix, {
      store: "main",
      mode: "checkpoint",
      labels: ["e2e"],
      compress: false,
    });
    const section = page.locator(`section[data-batch="${batch.batchId}"]`);
    await section.waitFor({ timeout: PAGE_WAIT });
    await expect
      .poll(() => section.locator(".report").textContent(), { timeout: PAGE_WAIT })
      .toMatch(/^Saved 6, failed 0, /);
    expect(await section.locator(".count").textContent()).toBe("6/6");
    expect(await section.locator("progress").getAttribute("value")).toBe("6");
    expect(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await shot("batches");
  });

  it("shows each domain's last good image, and the images", async () => {
    await page.goto(new URL("domains", base).href);
    const rows = page.locator("tr[data-domain]");
    await expect.poll(() => rows.count(), { timeout: PAGE_WAIT }).toBe(6);
    for (const text of await rows.allTextContents()) expect(text).not.toMatch(/none/);
    await shot("domains");
    await page.goto(new URL("images", base).href);
    await expect.poll(() => page.locator("tr[data-image]").count(), { timeout: PAGE_WAIT }).toBe(6);
    expect(await page.locator("tr[data-image]").first().textContent()).toContain("e2e");
    await shot("images");
  });

  it("shows the queues in bull-board", async () => {
    await page.goto(new URL("queues/", base).href);
    await page.getByText("save@host-1", { exact: true }).first().waitFor({ timeout: PAGE_WAIT });
    await shot("queues");
  });

  it("drains a host from its button", async () => {
    await page.goto(new URL("hosts", base).href);
    await page.getByRole("button", { name: "Drain host-3" }).click();
    await page.waitForURL(/\/hosts$/);
    const state = page.locator('tr[data-host="host-3"] td').nth(1);
    await expect.poll(() => state.textContent(), { timeout: PAGE_WAIT }).toBe("draining");
    expect(await isDraining(conn, prefix, "host-3")).toBe(true);
    await expect(page.getByRole("button", { name: "Undrain host-3" }).isVisible()).resolves.toBe(true);
    await shot("hosts-draining");
  });

  it("shows an evacuation's domains finish, and where they went", async () => {
    const queued = await cli(["evacuate", "host-3", ...fleet, "--json"], env);
    expect(queued.code, queued.stderr + queued.stdout).toBe(0);
    const { evacuationId } = JSON.parse(queued.stdout) as { evacuationId: string };
    await page.goto(new URL("evacuations", base).href);
    const section = page.locator(`section[data-evacuation="${evacuationId}"]`);
    await section.waitFor({ timeout: PAGE_WAIT });
    await expect.poll(() => section.locator(".report").textContent(), { timeout: PAGE_WAIT }).toMatch(/^Moved 2 /);
    const states = await section.locator("tr[data-domain] td:nth-child(4)").allTextContents();
    expect(states).toEqual(["done", "done"]);
    expect(await section.textContent()).toMatch(/host-3-vm-1.*host-3 → host-[12] \(live\)/s);
    await shot("evacuations");
  });
});

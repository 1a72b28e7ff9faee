/**
 * The dashboard's HTTP server (node:http): the login page and the static
 * files are open, everything else needs the token (401 without it). Pages
 * answer `X-Fragment: 1` with their live region alone, which the page script
 * polls. State changes are POSTs of forms carrying the CSRF token.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Stores } from "@xenfleet/fleet";
import { clearDraining, ConfigError, createRedis, getHost, markDraining } from "@xenfleet/jobs";
import { Auth, type Caller } from "./auth.js";
import { html, type Html } from "./html.js";
import { layout, loginPage, type NavItem } from "./layout.js";
import type { Page } from "./page.js";
import { batchesPage } from "./pages/batches.js";
import { domainsPage } from "./pages/domains.js";
import { evacuationsPage } from "./pages/evacuations.js";
import { hostsPage } from "./pages/hosts.js";
import { imagesPage } from "./pages/images.js";
import { queueBoard, QUEUES_PATH } from "./queues.js";
import { LIVE_SCRIPT, STYLE } from "./static.js";

export interface DashboardOptions {
  redisUrl: string;
  prefix: string;
  /** The fleet's stores, as its workers are configured (the images and domains pages read them). */
  stores: Stores;
  /** What callers must present (XENFLEET_DASHBOARD_TOKEN): at least 16 characters. */
  token: string;
  /** 0 picks a free port. */
  port: number;
  /** The address to listen on (default 127.0.0.1: this machine only). */
  bind?: string;
  /** How often pages refresh their live region, in ms (default 2000). */
  refreshMs?: number;
}

export interface Dashboard {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const PAGES: readonly Page[] = [hostsPage, domainsPage, batchesPage, evacuationsPage, imagesPage];
const NAV: readonly NavItem[] = [
  ...PAGES.map((p) => ({ path: p.path, title: p.title })),
  { path: `${QUEUES_PATH}/`, title: "Queues" },
];
/** A form body larger than this is refused: the forms here are a few fields. */
const MAX_BODY = 16 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers["content-type"] ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded"))
    throw new HttpError(415, "expected a form (application/x-www-form-urlencoded)");
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, "form too large");
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function send(res: ServerResponse, status: number, body: Html | string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    "content-type": typeof body === "string" ? "text/plain; charset=utf-8" : "text/html; charset=utf-8",
    "cache-control": "no-store",
    // Scripts only from here: markup that slipped through escaping still could not run one.
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    ...headers,
  });
  res.end(String(body));
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  if (options.token.length < 16)
    throw new ConfigError(
      "XENFLEET_DASHBOARD_TOKEN: required, at least 16 characters (the dashboard refuses to run open)",
    );
  const auth = new Auth(options.token);
  const redis = createRedis(options.redisUrl, "producer", "dashboard");
  const prefix = options.prefix;
  const queues = queueBoard(redis, prefix);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://dashboard");
    const path = url.pathname;
    const method = req.method ?? "GET";
    if (method === "GET" && path === "/static/style.css")
      return send(res, 200, STYLE, { "content-type": "text/css; charset=utf-8" });
    if (method === "GET" && path === "/static/live.js")
      return send(res, 200, LIVE_SCRIPT, { "content-type": "text/javascript; charset=utf-8" });
    if (method === "GET" && path === "/healthz") return send(res, 200, "ok\n");
    if (method === "GET" && path === "/login") return send(res, 200, loginPage());
    if (method === "POST" && path === "/login") {
      const session = auth.login((await formBody(req)).get("token") ?? "");
      if (session === undefined) return send(res, 401, loginPage("That is not the dashboard's token."));
      return send(res, 303, "", { location: "/hosts", "set-cookie": Auth.cookie(session) });
    }
    const caller = auth.caller(req);
    if (caller === undefined)
      return send(res, 401, loginPage(), { "www-authenticate": 'Bearer realm="xenfleet dashboard"' });
    if (path === QUEUES_PATH || path.startsWith(`${QUEUES_PATH}/`)) {
      // Read-only: it looks, the dashboard's own forms change things.
      if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "the queue board is read-only");
      return queues.handle(req, res);
    }
    if (method === "POST") return act(req, res, path, caller);
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, `${method} is not allowed here`);
    if (path === "/") return send(res, 303, "", { location: "/hosts" });
    const page = PAGES.find((p) => p.path === path);
    if (page === undefined) throw new HttpError(404, `no page ${path}`);
    const csrf = auth.csrf(caller);
    const body = await page.render({ redis, prefix, stores: options.stores, csrf });
    if (req.headers["x-fragment"] === "1") return send(res, 200, body);
    const framed = layout(
      {
        title: page.title,
        path,
        nav: NAV,
        ...(caller.kind === "session" ? { csrf } : {}),
        refreshMs: options.refreshMs ?? 2000,
      },
      body,
    );
    return send(res, 200, framed);
  }

  /** The state-changing requests: each checks the CSRF token first. */
  async function act(req: IncomingMessage, res: ServerResponse, path: string, caller: Caller): Promise<void> {
    const form = await formBody(req);
    if (!auth.csrfOk(caller, form.get("_csrf") ?? undefined))
      throw new HttpError(403, "missing or wrong CSRF token: reload the page and try again");
    if (path === "/logout") {
      auth.logout(caller);
      return send(res, 303, "", { location: "/login", "set-cookie": Auth.clearCookie() });
    }
    if (path === "/hosts/drain" || path === "/hosts/undrain") {
      const host = form.get("host") ?? "";
      if ((await getHost(redis, prefix, host)) === undefined) throw new HttpError(404, `no host ${host} is registered`);
      // What `xenfleet evacuate` marks first and `xenfleet hosts undrain` clears: nothing new is placed on a draining host.
      if (path === "/hosts/drain") await markDraining(redis, prefix, host);
      else await clearDraining(redis, prefix, host);
      return send(res, 303, "", { location: "/hosts" });
    }
    throw new HttpError(404, `no action ${path}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (res.headersSent) res.destroy();
      else send(res, status, html`<!doctype html><title>xenfleet · error</title><p class="error">${message}</p>`);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.bind ?? "127.0.0.1", () => resolve());
    });
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const host = options.bind ?? "127.0.0.1";
  const shown = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await queues.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

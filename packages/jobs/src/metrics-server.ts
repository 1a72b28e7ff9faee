/** A tiny HTTP server for Prometheus scrapes and liveness probes. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface MetricsServerOptions {
  registry: Registry;
  /** The port to listen on; 0 picks a free one (services skip the server when configured 0). */
  port: number;
  host?: string;
  /**
   * /healthz answers 200 with `{"ok":true}` while this reports ok, 503 with
   * `{"ok":false,"reason":...}` otherwise (shutting down, Redis or a store
   * out of reach). A check that throws is a failure with its message.
   */
  health?: () => Health | Promise<Health>;
}

export type Health = { ok: true } | { ok: false; reason: string };

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function serveMetrics(options: MetricsServerOptions): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
    } else if (path === "/metrics") {
      options.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": options.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (path === "/healthz") {
      Promise.resolve()
        .then(() => options.health?.() ?? { ok: true as const })
        .catch((err: unknown): Health => ({ ok: false, reason: (err as Error).message ?? String(err) }))
        .then((health) =>
          res
            .writeHead(health.ok ? 200 : 503, { "content-type": "application/json" })
            .end(`${JSON.stringify(health)}\n`),
        );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

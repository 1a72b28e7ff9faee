/**
 * A service's /healthz asks what it depends on: 503 with the reason while
 * Redis does not answer or its store cannot be reached, 200 once they are
 * back. Compress workers started on their own, as in production.
 */
import { mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listServices } from "@xenfleet/jobs";
import {
  deletePrefix,
  fileUrl,
  nodeArgs,
  REDIS_URL,
  redis,
  start,
  stop,
  tempDir,
  testPrefix,
  until,
  type Proc,
} from "./helpers.js";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function health(port: number): Promise<{ status: number; body: { ok: boolean; reason?: string } } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: res.status, body: (await res.json()) as { ok: boolean; reason?: string } };
  } catch {
    return undefined; // not listening yet
  }
}

describe("/healthz", () => {
  const dir = tempDir();
  const prefix = testPrefix();
  const procs: Proc[] = [];

  afterAll(async () => {
    await Promise.all(procs.map((p) => stop(p, 5000)));
    const conn = redis();
    await deletePrefix(conn, prefix);
    await conn.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  async function compressWorker(name: string, env: Record<string, string>): Promise<number> {
    const port = await freePort();
    const proc = start(
      name,
      nodeArgs("compress-worker"),
      { XENFLEET_PREFIX: prefix, XENFLEET_METRICS_PORT: String(port), XENFLEET_METRICS_BIND: "127.0.0.1", ...env },
      dir,
    );
    procs.push(proc);
    await until(`${name} listening`, () => health(port), 30_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${proc.output()}`);
    });
    return port;
  }

  it("is unhealthy while Redis does not answer", async () => {
    const nowhere = await freePort();
    const port = await compressWorker("no-redis", {
      XENFLEET_REDIS: `redis://127.0.0.1:${nowhere}`,
      XENFLEET_STORE: fileUrl(join(dir, "store-a")),
    });
    const answer = await health(port);
    expect(answer?.status).toBe(503);
    expect(answer?.body.ok).toBe(false);
    expect(answer?.body.reason).toContain("Redis did not answer PING");
  });

  it("is unhealthy while its store's directory is gone, and healthy again once it is back", async () => {
    const storeDir = join(dir, "store-b");
    mkdirSync(storeDir);
    const port = await compressWorker("store-gone", { XENFLEET_REDIS: REDIS_URL, XENFLEET_STORE: fileUrl(storeDir) });
    await until("healthy", async () => ((await health(port))?.status === 200 ? true : undefined));
    expect((await health(port))?.body).toEqual({ ok: true });
    // Started on its own, it registers where its metrics are, as the embedded fleet's services do.
    const conn = redis();
    try {
      const registered = await until("registered", async () => {
        const found = (await listServices(conn, prefix)).filter((s) => s.service === "compress-worker");
        return found.length > 0 ? found : undefined;
      });
      expect(registered.map((s) => s.metricsUrl)).toEqual([`http://127.0.0.1:${port}/metrics`]);
    } finally {
      await conn.quit();
    }
    rmSync(storeDir, { recursive: true });
    const gone = await health(port);
    expect(gone?.status).toBe(503);
    expect(gone?.body.reason).toBe(`store main: ${storeDir} is not a directory`);
    mkdirSync(storeDir);
    expect((await health(port))?.status).toBe(200);
  });
});

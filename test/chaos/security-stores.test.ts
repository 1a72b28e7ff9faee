/**
 * A job decides nothing about where images go: workers open only the
 * stores they are configured with, and jobs name one. Save, restore and gc
 * jobs naming a store elsewhere (an S3 endpoint on loopback, a directory),
 * as a URL in a current payload or in one of the versions written before
 * stores had names, fail as unrecoverable, and a logging HTTP server
 * standing in for that endpoint counts zero requests; a job naming the
 * configured store by name works, and so does an old job carrying the
 * configured store's URL.
 */
import { existsSync, rmSync } from "node:fs";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gcHandler, Stores } from "@xenfleet/fleet";
import { SimHost } from "@xenfleet/hypervisor";
import { listImages } from "@xenfleet/image";
import { LocalStore } from "@xenfleet/store";
import {
  bullPrefix,
  CONTROLLER_QUEUE,
  createLogger,
  createRedis,
  hostQueue,
  JOB_SPECS,
  jobData,
  runWorker,
  type RedisClient,
} from "@xenfleet/jobs";
import { SHARED_REDIS, ServiceProc, chaosPrefix, deletePrefix, tempDir, waitFor } from "./procs.js";

const MiB = 2 ** 20;
let dir: string;
let conn: RedisClient;
let server: Server;
let requests = 0;
let elsewhereUrl: string;
const prefix = chaosPrefix();

beforeAll(async () => {
  dir = tempDir();
  conn = createRedis(SHARED_REDIS, "producer", "xenfleet-chaos");
  // Whatever reaches it is counted and refused: a store the attacker controls.
  server = createServer((req, res) => {
    requests++;
    req.resume();
    res.statusCode = 403;
    res.end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  elsewhereUrl = `s3://loot?endpoint=http://127.0.0.1:${port}&pathStyle=true`;
});
afterAll(async () => {
  server.close();
  await deletePrefix(conn, prefix);
  await conn.quit();
  rmSync(dir, { recursive: true, force: true });
});

/** The job's hash as stored, once it has failed or completed. */
async function settled(queue: Queue, id: string): Promise<Record<string, string>> {
  await waitFor(async () => ["failed", "completed"].includes(await queue.getJobState(id)), 60_000);
  return conn.hgetall(`${bullPrefix(prefix)}:${queue.name}:${id}`);
}

describe("jobs name configured stores; nothing else is opened", () => {
  it("save and restore jobs naming an unconfigured store fail unrecoverable; nothing reaches that endpoint", async () => {
    const storeUrl = pathToFileURL(join(dir, "store")).href;
    const simDir = join(dir, "host-a");
    const host = await SimHost.open(simDir, { name: "host-a", totalMemoryBytes: 64 * MiB });
    const domain = await host.createDomain({ name: "web1", type: "pv", memoryBytes: 4 * MiB });
    const env = {
      XENFLEET_REDIS: SHARED_REDIS,
      XENFLEET_PREFIX: prefix,
      XENFLEET_STORES: `main=${storeUrl}`,
      XENFLEET_HOST: "host-a",
      XENFLEET_SIM_DIR: simDir,
      XENFLEET_HOST_ADDRESS: "127.0.0.1",
      XENFLEET_LOG_LEVEL: "info",
      AWS_ACCESS_KEY_ID: "WORKERKEY",
      AWS_SECRET_ACCESS_KEY: "workersecret",
    };
    const saver = new ServiceProc("save-a", "save-worker", env, dir);
    const restorer = new ServiceProc("restore-a", "restore-worker", env, dir);
    const saves = new Queue(hostQueue("save", "host-a"), { connection: conn, prefix: bullPrefix(prefix) });
    const restores = new Queue(hostQueue("restore", "host-a"), { connection: conn, prefix: bullPrefix(prefix) });
    saver.start();
    restorer.start();
    try {
      const domainRef = { uuid: domain.uuid, name: "web1" };
      // Written as a hostile producer would, straight to the queue: the current version with a URL,
      // and the version before names (v1) with URLs of stores the worker does not have.
      const fields = { host: "host-a", domain: domainRef, mode: "checkpoint" as const, labels: [], compress: false };
      const raw = (data: object) => saves.add("save", data, JOB_SPECS.save.options);
      const stolen = await raw({ v: 1, ...fields, store: elsewhereUrl });
      const planted = await raw({ v: 1, ...fields, store: pathToFileURL(join(dir, "planted")).href });
      const current = await raw({ v: JOB_SPECS.save.version, ...fields, store: elsewhereUrl });
      const restore = await restores.add(
        "restore",
        { v: 1, host: "host-a", store: elsewhereUrl, image: "c".repeat(64), paused: false },
        JOB_SPECS.restore.options,
      );
      for (const [queue, job] of [
        [saves, stolen],
        [saves, planted],
        [restores, restore],
      ] as const) {
        const hash = await settled(queue, job.id!);
        expect(hash.failedReason).toMatch(/XF_FLEET_UNKNOWN_STORE.*not configured/);
        // Unrecoverable: one attempt of five.
        expect(hash.atm).toBe("1");
      }
      const refused = await settled(saves, current.id!);
      expect(refused.failedReason).toMatch(/XF_JOB_INVALID.*store must be a store name/);
      expect(refused.atm).toBe("1");
      expect(requests).toBe(0);
      expect(existsSync(join(dir, "planted"))).toBe(false);
      // The configured store, by name, works; so does an old job carrying its URL, saved into it.
      for (const good of [
        await saves.add("save", jobData("save", { ...fields, store: "main" })),
        await raw({ v: 1, ...fields, store: storeUrl }),
      ]) {
        const hash = await settled(saves, good.id!);
        expect(hash.failedReason).toBeUndefined();
        expect(JSON.parse(hash.returnvalue!).imageId).toMatch(/^[0-9a-f]{64}$/);
      }
      expect(await listImages(await LocalStore.open(join(dir, "store")), { domain: domain.uuid })).toHaveLength(2);
    } finally {
      await saver.stop();
      await restorer.stop();
      await saves.close();
      await restores.close();
    }
  });

  it("a gc job naming an unconfigured store fails unrecoverable; the configured store's URL (an old job) is accepted", async () => {
    const storeUrl = pathToFileURL(join(dir, "gc-store")).href;
    const stores = new Stores({ XENFLEET_STORES: `main=${storeUrl}` });
    const workerConn = createRedis(SHARED_REDIS, "worker", "xenfleet-chaos");
    const handle = runWorker({
      queue: CONTROLLER_QUEUE,
      connection: workerConn,
      prefix,
      stores,
      logger: createLogger({ service: "security-stores", level: "silent" }),
      handlers: { gc: gcHandler(stores) },
    });
    const queue = new Queue(CONTROLLER_QUEUE, { connection: conn, prefix: bullPrefix(prefix) });
    try {
      // The version before names (v1) carried URLs: one elsewhere, refused; the configured store's, accepted.
      const gcV1 = (store: string) =>
        queue.add("gc", { v: 1, store, graceSeconds: 3600, dryRun: false }, JOB_SPECS.gc.options);
      const refused = await settled(queue, (await gcV1(elsewhereUrl)).id!);
      expect(refused.failedReason).toMatch(/XF_FLEET_UNKNOWN_STORE/);
      expect(refused.atm).toBe("1");
      expect(requests).toBe(0);
      const byUrl = await settled(queue, (await gcV1(storeUrl)).id!);
      expect(byUrl.failedReason).toBeUndefined();
      const byName = await settled(
        queue,
        (await queue.add("gc", jobData("gc", { store: "main", graceSeconds: 3600, dryRun: false }))).id!,
      );
      expect(byName.failedReason).toBeUndefined();
    } finally {
      await handle.stop();
      await queue.close();
      await stores.close();
      await workerConn.quit();
    }
  });
});

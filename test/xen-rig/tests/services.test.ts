/**
 * The fleet's save and restore workers on a real dom0: a save job taken from
 * the host's Redis (reached through QEMU's user-mode network at 10.0.2.2)
 * stores the guest's image in a filesystem store on the host (the rig's
 * output share), and a restore job brings the guest back, running where it
 * stopped. The workers run from the checkout's TypeScript sources, as their
 * own processes, configured through their environment only.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { DomainNotFoundError, XenHypervisor } from "@xenfleet/hypervisor";
import { afterAll, describe, expect, it } from "vitest";
import {
  clearWork,
  createGuest,
  destroyAllGuests,
  heartbeats,
  lastHeartbeat,
  OUT,
  onXen,
  timing,
  waitForNewHeartbeats,
} from "./rig.js";

const ROOT = new URL("../../../", import.meta.url).pathname;
const SAVE_WORKER = join(ROOT, "services/save-worker/src/main.ts");
const RESTORE_WORKER = join(ROOT, "services/restore-worker/src/main.ts");
/** The host's Redis, as QEMU's user-mode network shows the host's loopback. */
const REDIS_URL = process.env.XEN_RIG_REDIS ?? "redis://10.0.2.2:6379";
const STORE_URL = `file://${OUT}/store`;
const HOST_ID = "rig-dom0";

/** Why the services cannot run here, or undefined when they can. */
async function servicesMissing(): Promise<string | undefined> {
  if (!existsSync(SAVE_WORKER) || !existsSync(RESTORE_WORKER))
    return "services/save-worker or services/restore-worker does not exist yet";
  try {
    await import("@xenfleet/fleet");
    await import("@xenfleet/jobs");
    await import("bullmq");
  } catch (error) {
    return `the services' packages do not load yet: ${(error as Error).message.split("\n")[0]}`;
  }
  return undefined;
}

const missing = onXen ? await servicesMissing() : "not in the Xen rig";

function startWorker(file: string, name: string, env: Record<string, string>): ChildProcess {
  const log = createWriteStream(join(OUT, `${name}.log`), { flags: "a" });
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", file], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}

async function stopWorker(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  await exited;
  clearTimeout(timer);
}

describe.skipIf(!onXen)("fleet services on a real hypervisor", () => {
  if (missing !== undefined) {
    it.todo(`save worker stores a guest's image on the host, restore worker brings it back (pending: ${missing})`);
    return;
  }

  const workers: ChildProcess[] = [];
  afterAll(async () => {
    await Promise.all(workers.map(stopWorker));
    await destroyAllGuests();
    await clearWork();
  });

  it("a save worker stores a guest's image in the host's store, a restore worker brings the guest back running", async () => {
    const { Queue, QueueEvents } = await import("bullmq");
    const { bullPrefix, hostQueue, JOB_SPECS, jobData } = await import("@xenfleet/jobs");
    const { Redis } = await import("ioredis");

    const prefix = `rig${Date.now().toString(36)}`;
    const env = {
      XENFLEET_HOST: HOST_ID,
      XENFLEET_HYPERVISOR: "xen",
      XENFLEET_REDIS: REDIS_URL,
      XENFLEET_PREFIX: prefix,
      XENFLEET_STORE: STORE_URL,
      XENFLEET_HEARTBEAT_MS: "5000",
      XENFLEET_LOG_LEVEL: "info",
    };
    const host = new XenHypervisor();
    await createGuest("rig-svc", "pv");
    const guest = await host.domainInfo("rig-svc");

    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queues = [hostQueue("save", HOST_ID), hostQueue("restore", HOST_ID)].map(
      (name) => new Queue(name, { connection, prefix: bullPrefix(prefix) }),
    );
    const events = [hostQueue("save", HOST_ID), hostQueue("restore", HOST_ID)].map(
      (name) =>
        new QueueEvents(name, {
          connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }),
          prefix: bullPrefix(prefix),
        }),
    );
    try {
      await Promise.all(events.map((e) => e.waitUntilReady()));
      workers.push(startWorker(SAVE_WORKER, "save-worker", env));

      const saveStarted = performance.now();
      const save = await queues[0]!.add(
        "save",
        jobData("save", {
          host: HOST_ID,
          domain: { uuid: guest.uuid, name: guest.name },
          store: "main",
          mode: "suspend",
          labels: [],
          compress: false,
        }),
        JOB_SPECS.save.options,
      );
      const saved = (await save.waitUntilFinished(events[0]!, 600_000)) as { imageId: string; bytesTotal: number };
      await timing("save job (queued to done, save worker, suspend)", performance.now() - saveStarted, {
        type: "pv",
        bytes: saved.bytesTotal,
      });
      expect(saved.imageId).toMatch(/^[0-9a-f]{64}$/);
      await expect(host.domainInfo("rig-svc")).rejects.toBeInstanceOf(DomainNotFoundError);
      expect((await readdir(join(OUT, "store"), { recursive: true })).length).toBeGreaterThan(0);
      const stoppedAt = await lastHeartbeat("rig-svc");
      const seen = (await heartbeats("rig-svc")).length;

      workers.push(startWorker(RESTORE_WORKER, "restore-worker", env));
      const restoreStarted = performance.now();
      const restore = await queues[1]!.add(
        "restore",
        jobData("restore", { host: HOST_ID, store: "main", image: saved.imageId, paused: false }),
        JOB_SPECS.restore.options,
      );
      const restored = (await restore.waitUntilFinished(events[1]!, 600_000)) as {
        domain: { uuid: string; name: string };
      };
      await timing("restore job (queued to done, restore worker)", performance.now() - restoreStarted, { type: "pv" });
      expect(restored.domain).toEqual({ uuid: guest.uuid, name: "rig-svc" });
      expect((await host.domainInfo("rig-svc")).state).toBe("running");
      const after = await waitForNewHeartbeats("rig-svc", seen);
      expect(after[0]).toBeGreaterThanOrEqual(stoppedAt);
    } finally {
      await Promise.all(workers.map(stopWorker));
      for (const q of queues) await q.obliterate({ force: true }).catch(() => undefined);
      await Promise.all([...queues, ...events].map((q) => q.close()));
      // Leave nothing of this run in the shared Redis: every key carries the run's prefix.
      const leftovers = await connection.keys(`*${prefix}*`);
      if (leftovers.length > 0) await connection.del(...leftovers);
      await connection.quit();
      host.close();
    }
  });
});

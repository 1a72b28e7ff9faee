import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Job, Queue } from "bullmq";
import { bullPrefix, listHosts, waitForJob as waitForFinished, type RedisClient } from "@xenfleet/jobs";
import { REDIS_URL } from "@xenfleet/jobs/testing";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");

export interface Proc {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Workers as separate processes; logs go to files under the fleet's directory. */
export class TestFleet {
  readonly procs = new Map<string, Proc>();
  private constructor(
    readonly dir: string,
    readonly prefix: string,
  ) {}

  static async create(prefix: string): Promise<TestFleet> {
    return new TestFleet(await mkdtemp(join(tmpdir(), "xf-e2e-")), prefix);
  }

  simDir(host: string): string {
    return join(this.dir, "hosts", host);
  }

  startWorker(host: string, env: Record<string, string> = {}): Proc {
    return this.spawn(`${host}-migrate`, join(root, "services", "migrate-worker", "src", "main.ts"), {
      XENFLEET_HOST: host,
      XENFLEET_SIM_DIR: this.simDir(host),
      XENFLEET_HOST_ADDRESS: "127.0.0.1",
      XENFLEET_MIGRATE_BIND: "127.0.0.1",
      XENFLEET_HEARTBEAT_MS: "300",
      XENFLEET_LOG_LEVEL: "info",
      ...env,
    });
  }

  startController(): Proc {
    return this.spawn("controller", join(here, "evacuate-controller.ts"), {});
  }

  private spawn(name: string, script: string, env: Record<string, string>): Proc {
    const log = createWriteStream(join(this.dir, `${name}.log`), { flags: "a" });
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", script], {
      cwd: root,
      env: {
        ...process.env,
        XENFLEET_REDIS: REDIS_URL,
        XENFLEET_PREFIX: this.prefix,
        XENFLEET_STORE: `file://${join(this.dir, "store")}`,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const p = { name, child, exited };
    this.procs.set(name, p);
    return p;
  }

  async stop(name: string, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const p = this.procs.get(name);
    if (!p) return;
    this.procs.delete(name);
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
    const timer = setTimeout(() => p.child.kill("SIGKILL"), 15_000);
    await p.exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((n) => this.stop(n)));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Waits until every named host shows as up in the registry. */
export async function waitForHosts(
  redis: RedisClient,
  prefix: string,
  ids: string[],
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = new Set((await listHosts(redis, prefix)).filter((h) => h.state === "up").map((h) => h.id));
    if (ids.every((id) => up.has(id))) return;
    if (Date.now() > deadline) throw new Error(`hosts not up: ${ids.filter((id) => !up.has(id)).join(",")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Polls a job until it completes or fails. */
export async function waitForJob(
  redis: RedisClient,
  prefix: string,
  queueName: string,
  id: string,
  timeoutMs = 120_000,
): Promise<Job> {
  const queue = new Queue(queueName, { connection: redis, prefix: bullPrefix(prefix) });
  try {
    return (await waitForFinished(queue, id, { timeoutMs, intervalMs: 200 })).job;
  } finally {
    await queue.close();
  }
}

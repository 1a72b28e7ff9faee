/**
 * Processes for the chaos suite: the fleet's services started from their
 * TypeScript sources (always the current code), killed with SIGKILL and
 * brought back as a supervisor would; a redis-server of the suite's own; a
 * seeded random source so a failing run can be replayed (CHAOS_SEED).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { until } from "../e2e/helpers.js";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
export const SHARED_REDIS = process.env.XENFLEET_TEST_REDIS ?? "redis://127.0.0.1:6379";

export function chaosPrefix(): string {
  return `xfchaos-${randomBytes(5).toString("hex")}`;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "xenfleet-chaos-"));
}

/** A small seeded generator (mulberry32): the same seed, the same faults. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const CHAOS_SEED = Number(process.env.CHAOS_SEED ?? 1234);

export type Service = "save-worker" | "restore-worker" | "compress-worker" | "migrate-worker" | "controller";

/** A service that can be killed and restarted; its output accumulates in one log file. */
export class ServiceProc {
  child: ChildProcess | undefined;
  kills = 0;
  starts = 0;
  readonly log: string;

  constructor(
    readonly name: string,
    readonly service: Service,
    readonly env: Record<string, string>,
    logDir: string,
  ) {
    this.log = join(logDir, `${name}.log`);
  }

  start(): void {
    const fd = openSync(this.log, "a");
    const args = ["--conditions=source", "--import", "tsx", join(ROOT, "services", this.service, "src", "main.ts")];
    this.child = spawn(process.execPath, args, {
      env: { ...process.env, ...this.env },
      stdio: ["ignore", fd, fd],
      cwd: ROOT,
    });
    closeSync(fd);
    this.starts++;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL: no shutdown handler runs, whatever the process was doing stops mid-way. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.alive) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    this.kills++;
  }

  /** Graceful stop (SIGTERM), then SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.alive) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }

  output(): string {
    try {
      return readFileSync(this.log, "utf8");
    } catch {
      return "";
    }
  }
}

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/**
 * A redis-server of the suite's own, with an append-only file so queued
 * jobs survive a restart. stop() kills it (SIGKILL: an outage, not a
 * shutdown); start() again brings it back on the same port and directory.
 */
export class RedisServer {
  child: ChildProcess | undefined;
  restarts = 0;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly extraArgs: readonly string[],
  ) {}

  /** A redis-server on a free loopback port keeping its files in `dir`; `extraArgs` e.g. ["--replicaof", "127.0.0.1", "6380"]. */
  static async start(dir: string, extraArgs: readonly string[] = []): Promise<RedisServer> {
    mkdirSync(dir, { recursive: true });
    const server = new RedisServer(await freePort(), dir, extraArgs);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        this.dir,
        ...this.extraArgs,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d) => {
        output += String(d);
        if (output.includes("Ready to accept connections")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`redis-server exited (${String(code)}): ${output.slice(-500)}`)));
    });
    await ready;
    child.stdout!.resume();
    this.child = child;
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    this.child = undefined;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
    this.restarts++;
  }
}

/**
 * A Redis watched by Sentinel, all on free loopback ports: a master, one
 * replica of it, and one sentinel (quorum 1) that promotes the replica a
 * second after the master stops answering.
 */
export class SentinelRedis {
  private constructor(
    readonly master: RedisServer,
    readonly replica: RedisServer,
    readonly sentinelPort: number,
    private readonly sentinel: ChildProcess,
  ) {}

  static readonly MASTER_NAME = "xfmaster";

  static async start(dir: string): Promise<SentinelRedis> {
    // The master sends its first full copy at once, not after Redis's default 5 s wait for more replicas.
    const master = await RedisServer.start(join(dir, "master"), ["--repl-diskless-sync-delay", "0"]);
    const replica = await RedisServer.start(join(dir, "replica"), ["--replicaof", "127.0.0.1", String(master.port)]);
    // A replica accepts connections before it holds the master's data: wait until it does, or a
    // master killed early would be replaced by an empty one.
    const probe = new Redis({ host: "127.0.0.1", port: replica.port, lazyConnect: true });
    try {
      await probe.connect();
      await until(
        "the replica in sync with the master",
        async () => ((await probe.info("replication")).includes("master_link_status:up") ? true : undefined),
        30_000,
      );
    } finally {
      probe.disconnect();
    }
    const port = await freePort();
    const config = join(dir, "sentinel.conf");
    writeFileSync(
      config,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${SentinelRedis.MASTER_NAME} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${SentinelRedis.MASTER_NAME} 1000`,
        `sentinel failover-timeout ${SentinelRedis.MASTER_NAME} 5000`,
        "",
      ].join("\n"),
    );
    const sentinel = spawn("redis-sentinel", [config], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    await new Promise<void>((resolve, reject) => {
      sentinel.stdout!.on("data", (d) => {
        output += String(d);
        if (output.includes("+monitor master")) resolve();
      });
      sentinel.once("exit", (code) =>
        reject(new Error(`redis-sentinel exited (${String(code)}): ${output.slice(-500)}`)),
      );
    });
    sentinel.stdout!.resume();
    return new SentinelRedis(master, replica, port, sentinel);
  }

  get url(): string {
    return `redis+sentinel://127.0.0.1:${this.sentinelPort}/${SentinelRedis.MASTER_NAME}`;
  }

  /** The port of the master the sentinel names now. */
  async currentMasterPort(): Promise<number> {
    const client = new Redis({ host: "127.0.0.1", port: this.sentinelPort, lazyConnect: true });
    try {
      await client.connect();
      const addr = (await client.call("SENTINEL", "get-master-addr-by-name", SentinelRedis.MASTER_NAME)) as string[];
      return Number(addr[1]);
    } finally {
      client.disconnect();
    }
  }

  async stop(): Promise<void> {
    if (this.sentinel.exitCode === null && this.sentinel.signalCode === null) {
      const exited = once(this.sentinel, "exit");
      this.sentinel.kill("SIGKILL");
      await exited;
    }
    await Promise.all([this.master.kill(), this.replica.kill()]);
  }
}

/**
 * A Redis Cluster on free loopback ports: `masters` masters sharing the
 * 16384 slots and `replicasPerMaster` replicas of each, made by
 * `redis-cli --cluster create`. A replica takes over its master's slots two
 * seconds after the master stops answering (cluster-node-timeout).
 */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(dir: string, masters = 3, replicasPerMaster = 0): Promise<RedisCluster> {
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
        const nodeDir = join(dir, `node-${i}`);
        // The cluster bus gets a free port of its own: port + 10000, Redis's default, may be taken or past 65535.
        const busPort = await freePort();
        nodes.push(
          await RedisServer.start(nodeDir, [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            join(nodeDir, "nodes.conf"),
            "--cluster-node-timeout",
            "2000",
            "--cluster-port",
            String(busPort),
            "--repl-diskless-sync-delay",
            "0",
          ]),
        );
      }
      const create = spawn(
        "redis-cli",
        [
          "--cluster",
          "create",
          ...nodes.map((n) => `127.0.0.1:${n.port}`),
          "--cluster-replicas",
          String(replicasPerMaster),
          "--cluster-yes",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let output = "";
      create.stdout!.on("data", (d) => (output += String(d)));
      create.stderr!.on("data", (d) => (output += String(d)));
      const [code] = (await once(create, "exit")) as [number | null];
      if (code !== 0) throw new Error(`redis-cli --cluster create exited (${String(code)}): ${output.slice(-1000)}`);
      const cluster = new RedisCluster(nodes);
      await until(
        "every cluster node to see the cluster whole and every replica in sync",
        () => cluster.ready(),
        60_000,
      );
      return cluster;
    } catch (err) {
      await Promise.all(nodes.map((n) => n.kill()));
      throw err;
    }
  }

  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(",")}`;
  }

  /** True once every live node says the cluster is ok and every live replica holds its master's data. */
  private async ready(): Promise<true | undefined> {
    for (const node of this.nodes) {
      if (node.child === undefined) continue;
      const ok = await this.onNode(node.port, async (c) => {
        if (!(await c.cluster("INFO")).includes("cluster_state:ok")) return false;
        const replication = await c.info("replication");
        return replication.includes("role:master") || replication.includes("master_link_status:up");
      });
      if (!ok) return undefined;
    }
    return true;
  }

  /** Runs `fn` on a connection of its own to the node on `port` (a node, not the cluster: no redirections). */
  async onNode<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
    const client = new Redis({ host: "127.0.0.1", port, lazyConnect: true, retryStrategy: () => null });
    try {
      await client.connect();
      return await fn(client);
    } finally {
      client.disconnect();
    }
  }

  /** The node that serves `key`'s hash slot now, as a live node sees it. */
  async masterOf(key: string): Promise<RedisServer> {
    const live = this.nodes.find((n) => n.child !== undefined)!;
    const port = await this.onNode(live.port, async (c) => {
      const slot = Number(await c.cluster("KEYSLOT", key));
      // Each range: first slot, last slot, then its master [host, port, id] and its replicas.
      const ranges = await c.cluster("SLOTS");
      return ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
    });
    const node = this.nodes.find((n) => n.port === port);
    if (node === undefined) throw new Error(`no node of this cluster serves ${key}`);
    return node;
  }

  /** The replica of `master`. */
  async replicaOf(master: RedisServer): Promise<RedisServer> {
    const info = await this.onNode(master.port, (c) => c.info("replication"));
    const port = Number(/^slave0:.*port=(\d+)/m.exec(info)?.[1]);
    const node = this.nodes.find((n) => n.port === port);
    if (node === undefined) throw new Error(`the master on ${master.port} has no replica`);
    return node;
  }

  /** How many keys each live master holds. */
  async keyCounts(): Promise<Map<RedisServer, number>> {
    const counts = new Map<RedisServer, number>();
    for (const node of this.nodes) {
      if (node.child === undefined) continue;
      await this.onNode(node.port, async (c) => {
        if ((await c.info("replication")).includes("role:master")) counts.set(node, await c.dbsize());
      });
    }
    return counts;
  }

  /** Waits until a node other than `old` serves `key` and the cluster is ok again. */
  async failedOver(key: string, old: RedisServer): Promise<RedisServer> {
    return until(
      `a replica to take over ${key} from the master on ${old.port}`,
      async () => {
        const now = await this.masterOf(key);
        return now !== old && (await this.ready()) ? now : undefined;
      },
      60_000,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }
}

// Key cleanup and polling are the same as the end-to-end suites use.
export { deletePrefix, until } from "../e2e/helpers.js";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it is true or `timeoutMs` passes; says which. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

/**
 * The fleet on an encrypted store, as separate processes: the store made
 * with `xenfleet init --encrypt`, each worker given the key file through
 * XENFLEET_KEY_FILE. A save, a compression and a restore go through it as
 * they do through a plain store; a compress worker without the key refuses
 * its job with the reason; the key itself is nowhere in Redis or in the
 * workers' logs.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CONFIG } from "@xenfleet/fleet";
import { SimHost } from "@xenfleet/hypervisor";
import { COMPRESS_QUEUE, hostQueue, JOB_SPECS, jobData, keys, listHosts, type RedisClient } from "@xenfleet/jobs";
import {
  cli,
  deletePrefix,
  fileUrl,
  nodeArgs,
  queue,
  redis,
  REDIS_URL,
  start,
  stop,
  tempDir,
  testPrefix,
  until,
  type Proc,
} from "./helpers.js";

const MiB = 2 ** 20;
const HOSTS = ["host-1", "host-2"];

describe("the fleet on an encrypted store", () => {
  const prefix = testPrefix();
  const dir = tempDir();
  const storeUrl = fileUrl(join(dir, "store"));
  const keyFile = join(dir, "store.key");
  const store = "main";
  const simDir = (host: string) => join(dir, "hosts", host);
  const procs = new Map<string, Proc>();
  const env = {
    XENFLEET_REDIS: REDIS_URL,
    XENFLEET_PREFIX: prefix,
    XENFLEET_STORE: storeUrl,
    XENFLEET_LOG_LEVEL: "info",
  };
  let conn: RedisClient;
  let uuid: string;
  let imageId: string;

  beforeAll(async () => {
    conn = redis();
    const made = await cli(["init", "--store", storeUrl, "--encrypt", "--key-file", keyFile, "--json"], {
      XENFLEET_KEY_FILE: "",
    });
    expect(made.code, made.stderr).toBe(0);
    const sim = await SimHost.open(simDir("host-1"), { name: "host-1", totalMemoryBytes: 256 * MiB });
    uuid = (await sim.createDomain({ name: "vm", type: "hvm", memoryBytes: 16 * MiB })).uuid;
    await SimHost.open(simDir("host-2"), { name: "host-2", totalMemoryBytes: 256 * MiB });
    const keyed = { ...env, XENFLEET_KEY_FILE: keyFile };
    procs.set("controller", start("controller", nodeArgs("controller"), keyed, dir));
    for (const host of HOSTS) {
      const hostEnv = {
        ...keyed,
        XENFLEET_HOST: host,
        XENFLEET_SIM_DIR: simDir(host),
        XENFLEET_HEARTBEAT_MS: "1000",
        XENFLEET_HOST_ADDRESS: "127.0.0.1",
      };
      procs.set(`${host}-save`, start(`${host}-save`, nodeArgs("save-worker"), hostEnv, dir));
      procs.set(`${host}-restore`, start(`${host}-restore`, nodeArgs("restore-worker"), hostEnv, dir));
    }
    await until(
      "both hosts to report up",
      async () => ((await listHosts(conn, prefix)).filter((h) => h.state === "up").length === 2 ? true : undefined),
      90_000,
    );
  });

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => stop(p)));
    await deletePrefix(conn, prefix);
    await conn.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  async function runJob(queueName: string, name: string, data: unknown) {
    const q = queue(conn, prefix, queueName);
    try {
      const job = await q.add(name, data, { ...JOB_SPECS.save.options, attempts: 1 });
      await until(`${name} job to finish`, async () => {
        const state = await q.getJobState(job.id!);
        return state === "completed" || state === "failed" ? state : undefined;
      });
      return (await q.getJob(job.id!))!;
    } finally {
      await q.close();
    }
  }

  it("saves a domain into the store, whose image verifies only with the key", async () => {
    const saved = await runJob(
      hostQueue("save", "host-1"),
      "save",
      jobData("save", {
        host: "host-1",
        domain: { uuid, name: "vm" },
        store,
        mode: "checkpoint",
        labels: [],
        compress: false,
      }),
    );
    expect(saved.failedReason).toBeUndefined();
    imageId = (saved.returnvalue as { imageId: string }).imageId;
    const verified = await cli(["image", "verify", imageId, "--store", storeUrl, "--json"], {
      XENFLEET_KEY_FILE: keyFile,
    });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const locked = await cli(["image", "ls", "--store", storeUrl, "--json"], { XENFLEET_KEY_FILE: "" });
    expect(locked.code).toBe(2);
    expect(JSON.parse(locked.stdout).error.code).toBe("XF_KEY_MISSING");
  });

  it("a compress worker without the key refuses the job, saying so; one with it compresses the encrypted packs", async () => {
    const job = jobData("compress", { store, image: imageId, algorithm: "zstd", level: 3 });
    const keyless = start("compress-keyless", nodeArgs("compress-worker"), { ...env, XENFLEET_KEY_FILE: "" }, dir);
    try {
      const refused = await runJob(COMPRESS_QUEUE, "compress", job);
      expect(refused.failedReason).toMatch(/is encrypted and no key was given.*XENFLEET_KEY_FILE/);
    } finally {
      await stop(keyless);
    }
    procs.set("compress", start("compress", nodeArgs("compress-worker"), { ...env, XENFLEET_KEY_FILE: keyFile }, dir));
    const compressed = await runJob(COMPRESS_QUEUE, "compress", job);
    expect(compressed.failedReason).toBeUndefined();
    const r = compressed.returnvalue as { bytesIn: number; bytesOut: number };
    expect(r.bytesOut).toBeLessThan(r.bytesIn);
  });

  it("a worker whose key file path names no file stops at start-up, naming it", async () => {
    const missing = join(dir, "missing.key");
    const proc = start("compress-bad-key", nodeArgs("compress-worker"), { ...env, XENFLEET_KEY_FILE: missing }, dir);
    const exited = await proc.exited;
    expect(exited.code).toBe(EXIT_CONFIG);
    expect(proc.output()).toContain(`key file ${missing}: no such file`);
  });

  it("restores the compressed image onto another host with the original's memory", async () => {
    const restored = await runJob(
      hostQueue("restore", "host-2"),
      "restore",
      jobData("restore", { host: "host-2", store, image: imageId, paused: true }),
    );
    expect(restored.failedReason).toBeUndefined();
    const original = await (await SimHost.open(simDir("host-1"))).digest(uuid);
    const copy = await (await SimHost.open(simDir("host-2"))).digest(uuid);
    expect(copy.digest).toBe(original.digest);
  });

  it("the key is nowhere in Redis or in the workers' logs", async () => {
    const key = (JSON.parse(readFileSync(keyFile, "utf8")) as { key: string }).key;
    const raw = Buffer.from(key, "base64").toString("hex");
    const seen: string[] = [];
    for (const name of await conn.keys(keys.all(prefix))) {
      const type = await conn.type(name);
      if (type === "string") seen.push((await conn.get(name)) ?? "");
      else if (type === "hash") seen.push(JSON.stringify(await conn.hgetall(name)));
      else if (type === "list") seen.push(JSON.stringify(await conn.lrange(name, 0, -1)));
      else if (type === "set") seen.push(JSON.stringify(await conn.smembers(name)));
      else if (type === "zset") seen.push(JSON.stringify(await conn.zrange(name, 0, -1)));
      else if (type === "stream") seen.push(JSON.stringify(await conn.xrange(name, "-", "+")));
    }
    expect(seen.length).toBeGreaterThan(10);
    const logs = [...procs.values()].map((p) => p.output());
    for (const text of [...seen, ...logs]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(raw);
    }
  });
});

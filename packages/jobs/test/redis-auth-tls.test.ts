/**
 * Redis with a password, and with TLS, configured by the URL alone: a
 * redis-server of the test's own (password required; TLS with certificates
 * made by openssl at test time, if this redis-server was built with TLS),
 * reached through createRedis and BullMQ, running a real job. Secrets never
 * appear in errors or logs.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Job, Queue, Worker } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, createRedis, describeRedis, parseRedisUrl, type RedisClient } from "../src/index.js";
import { captureLogger } from "./helpers.js";

const run = promisify(execFile);
const PASSWORD = `pw-${randomBytes(8).toString("hex")}`;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

let dir: string;
let server: ChildProcess | undefined;
let port = 0;
let tlsPort = 0;
let tlsProblem: string | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "xenfleet-redis-auth-"));
  // A private CA and a server certificate for 127.0.0.1, made here, valid for a day.
  try {
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "ca.key"),
      "-out",
      join(dir, "ca.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=xenfleet test CA",
    ]);
    await writeFile(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
    await run("openssl", [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "server.key"),
      "-out",
      join(dir, "server.csr"),
      "-subj",
      "/CN=127.0.0.1",
    ]);
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      join(dir, "server.csr"),
      "-CA",
      join(dir, "ca.pem"),
      "-CAkey",
      join(dir, "ca.key"),
      "-CAcreateserial",
      "-out",
      join(dir, "server.pem"),
      "-days",
      "1",
      "-extfile",
      join(dir, "ext.cnf"),
    ]);
  } catch (error) {
    tlsProblem = `openssl could not make test certificates (${(error as Error).message.split("\n")[0]})`;
  }
  port = await freePort();
  tlsPort = tlsProblem === undefined ? await freePort() : 0;
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--requirepass",
    PASSWORD,
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
  ];
  if (tlsPort !== 0) {
    args.push(
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      join(dir, "server.pem"),
      "--tls-key-file",
      join(dir, "server.key"),
    );
    args.push("--tls-ca-cert-file", join(dir, "ca.pem"), "--tls-auth-clients", "no");
  }
  server = await startRedis(args);
  if (server === undefined && tlsPort !== 0) {
    // This redis-server has no TLS: run the password tests without it.
    tlsProblem = "this redis-server was built without TLS support";
    tlsPort = 0;
    server = await startRedis(args.slice(0, args.indexOf("--tls-port")));
  }
  if (server === undefined) throw new Error("redis-server did not start");
});

afterAll(async () => {
  if (server !== undefined && server.exitCode === null) {
    server.kill("SIGTERM");
    await once(server, "exit");
  }
  await rm(dir, { recursive: true, force: true });
});

/** Starts redis-server; undefined if it exits (e.g. refuses an option) instead of accepting connections. */
async function startRedis(args: string[]): Promise<ChildProcess | undefined> {
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += String(d)));
  const ready = new Promise<boolean>((resolve) => {
    child.stdout!.on("data", () => output.includes("Ready to accept connections") && resolve(true));
    child.on("exit", () => resolve(false));
  });
  return (await ready) ? child : undefined;
}

/** Adds a job and has a BullMQ worker, on connections from createRedis, run it. */
async function runOneJob(url: string): Promise<unknown> {
  const prefix = `xftest-${randomBytes(4).toString("hex")}`;
  const clients: RedisClient[] = [createRedis(url, "producer"), createRedis(url, "worker")];
  const [producer, workerConn] = clients as [RedisClient, RedisClient];
  const queue = new Queue("auth-test", { connection: producer, prefix });
  const worker = new Worker("auth-test", async (job) => ({ doubled: (job.data as { n: number }).n * 2 }), {
    connection: workerConn,
    prefix,
  });
  try {
    const job = await queue.add("double", { n: 21 });
    // Poll the job's state over the same connection (no event stream to miss).
    const deadline = Date.now() + 50_000;
    for (;;) {
      const state = await job.getState();
      if (state === "completed") return (await Job.fromId(queue, job.id!))?.returnvalue;
      if (state === "failed") throw new Error(`job failed: ${(await Job.fromId(queue, job.id!))?.failedReason}`);
      if (Date.now() > deadline) throw new Error(`job still ${state} after 50 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await Promise.allSettled(clients.map((c) => c.quit()));
  }
}

describe("Redis with a password", () => {
  it("runs a job when the URL carries the password", async () => {
    expect(await runOneJob(`redis://:${PASSWORD}@127.0.0.1:${port}`)).toEqual({ doubled: 42 });
  });

  it("a wrong password fails clearly, and neither password shows in the log (regression: ioredis errors carry AUTH arguments)", async () => {
    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    const client = createRedis(`redis://:${wrong}@127.0.0.1:${port}`, "producer");
    client.on("error", () => undefined);
    const error = await client.ping().catch((e: unknown) => e);
    client.disconnect();
    expect(String(error)).toMatch(/WRONGPASS|NOAUTH|invalid password/i);
    const { logger, lines } = captureLogger();
    logger.error(
      { err: error, redis: describeRedis(parseRedisUrl(`redis://:${wrong}@127.0.0.1:${port}`)) },
      "redis refused us",
    );
    logger.info({ redisUrl: `redis://:${wrong}@127.0.0.1:${port}` }, "config");
    expect(lines()).toContain("redis refused us");
    expect(lines()).not.toContain(wrong);
    expect(lines()).not.toContain(PASSWORD);
  });
});

describe("Redis over TLS", () => {
  it("runs a job over rediss:// trusting a private CA named in the URL", async (ctx) => {
    if (tlsPort === 0) return ctx.skip(tlsProblem);
    const url = `rediss://:${PASSWORD}@127.0.0.1:${tlsPort}?ca=${encodeURIComponent(join(dir, "ca.pem"))}`;
    expect(await runOneJob(url)).toEqual({ doubled: 42 });
  });

  it("without the CA, the server's certificate is refused (no silent trust)", async (ctx) => {
    if (tlsPort === 0) return ctx.skip(tlsProblem);
    const client = createRedis(`rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`, "producer");
    const failure = new Promise<unknown>((resolve) => client.once("error", resolve));
    expect(String(await failure)).toMatch(/self[- ]signed|unable to (get|verify)|certificate/i);
    client.disconnect();
  });

  it("TLS file parameters are checked when the URL is read", () => {
    expect(() => parseRedisUrl("redis://127.0.0.1?ca=/x.pem")).toThrow(ConfigError);
    expect(() => parseRedisUrl("rediss://127.0.0.1?cert=/c.pem")).toThrow(ConfigError);
    expect(parseRedisUrl("rediss://127.0.0.1?ca=/x.pem").tlsFiles).toEqual({ ca: "/x.pem" });
    expect(() => createRedis("rediss://127.0.0.1?ca=/does/not/exist.pem", "producer")).toThrow(/"ca" file/);
  });
});

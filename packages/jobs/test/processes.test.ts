import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Queue } from "bullmq";
import { hostQueue, runWorker, type WorkerHandle, type RedisClient } from "../src/index.js";
import {
  deletePrefix,
  queue,
  REDIS_URL,
  redis,
  saveResult,
  savePayload,
  silentLogger,
  testPrefix,
  until,
} from "./helpers.js";

const fixture = fileURLToPath(new URL("./fixtures/worker-child.ts", import.meta.url));
const name = hostQueue("save", "h1");

/** Run the fixture worker in its own process. */
function child(prefix: string, mode: "hold" | "graceful") {
  const proc = spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", fixture, REDIS_URL, prefix, name, mode],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  proc.stdout.on("data", (d: Buffer) => (out += String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const saw = (text: string) =>
    until(`child to print "${text}"`, () => (out.includes(text) ? true : undefined), 30_000);
  return { proc, exited, saw, output: () => out };
}

describe("worker processes", () => {
  let prefix: string;
  let conn: RedisClient;
  let q: Queue;
  let rescuer: WorkerHandle | undefined;
  let kids: ReturnType<typeof child>[] = [];

  beforeEach(() => {
    prefix = testPrefix();
    conn = redis();
    q = queue(name, prefix, conn);
  });

  afterEach(async () => {
    for (const k of kids) k.proc.kill("SIGKILL");
    await Promise.all(kids.map((k) => k.exited));
    kids = [];
    await rescuer?.stop();
    rescuer = undefined;
    await q.close();
    await deletePrefix(conn, prefix);
    await conn.quit();
  });

  it("a worker killed mid-job loses nothing: another recovers the job through the stalled check", async () => {
    const victim = child(prefix, "hold");
    kids.push(victim);
    const job = await q.add("save", savePayload("h1"), { attempts: 3 });
    await victim.saw(`started ${job.id}`);
    expect(await job.getState()).toBe("active");
    victim.proc.kill("SIGKILL");
    expect((await victim.exited).signal).toBe("SIGKILL");

    rescuer = runWorker({
      queue: name,
      connection: conn,
      prefix,
      logger: silentLogger,
      stall: { lockDuration: 1000, stalledInterval: 300 },
      handlers: { save: async () => saveResult },
    });
    const done = await until("job to be recovered and completed", async () => {
      const j = await q.getJob(job.id ?? "");
      return (await j?.getState()) === "completed" ? j : undefined;
    });
    expect(done.returnvalue).toEqual({ v: 2, ...saveResult });
    expect(done.stalledCounter).toBe(1);
  });

  it("SIGTERM lets the job in hand finish, then the process exits cleanly", async () => {
    const service = child(prefix, "graceful");
    kids.push(service);
    const job = await q.add("save", savePayload("h1"));
    await service.saw(`started ${job.id}`);
    service.proc.kill("SIGTERM");
    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(service.output()).toContain("stopped finished");
    const finished = await q.getJob(job.id ?? "");
    expect(await finished?.getState()).toBe("completed");
    expect(finished?.returnvalue.imageId).toBe("b".repeat(64));
  });
});

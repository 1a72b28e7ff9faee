import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isLocalDefaultRedis } from "../src/commands/local-redis.js";

const root = join(import.meta.dirname, "../../..");
const launcher = join(root, "packages/cli/bin/xenfleet.js");

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [launcher, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
  });
}

/** A port nothing listens on: one the kernel handed out and was closed again. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe("a Redis that does not answer", () => {
  it.each([["demo"], ["up"], ["hosts"], ["migrate", "vm1", "--to", "host-2"]])(
    "%s fails within seconds with exit code 3 and one line naming the URL, password masked",
    async (...command) => {
      const port = await closedPort();
      const stateDir = await mkdtemp(join(tmpdir(), "xenfleet-cli-redis-"));
      dirs.push(stateDir);
      const stateArgs = command[0] === "demo" || command[0] === "up" ? ["--state-dir", stateDir] : [];
      const r = await run([...command, "--redis", `redis://:secret@127.0.0.1:${port}`, ...stateArgs]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`cannot reach Redis at redis://:***@127.0.0.1:${port}/0`);
      expect(r.stderr).not.toContain("secret");
      expect(r.stderr).not.toMatch(/\n\s+at |Unhandled error event/);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.ms).toBeLessThan(8000);
    },
  );
});

describe("isLocalDefaultRedis", () => {
  it("is the plain local URL only: a Redis xenfleet may start itself", () => {
    expect(isLocalDefaultRedis("redis://127.0.0.1:6379")).toBe(true);
    expect(isLocalDefaultRedis("redis://localhost/2")).toBe(true);
    expect(isLocalDefaultRedis("redis://127.0.0.1:6390")).toBe(false);
    expect(isLocalDefaultRedis("redis://redis.example:6379")).toBe(false);
    expect(isLocalDefaultRedis("redis://:pw@127.0.0.1:6379")).toBe(false);
    expect(isLocalDefaultRedis("rediss://127.0.0.1:6379")).toBe(false);
  });
});

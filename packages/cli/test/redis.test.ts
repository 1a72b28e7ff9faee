import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isLocalDefaultRedis } from "../src/commands/local-redis.js";
import { closedPort, xenfleet } from "./helpers.js";

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
      const r = await xenfleet([...command, "--redis", `redis://:secret@127.0.0.1:${port}`, ...stateArgs]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`cannot reach Redis at redis://:***@127.0.0.1:${port}/0`);
      expect(r.stderr).not.toContain("secret");
      expect(r.stderr).not.toMatch(/\n\s+at |Unhandled error event/);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.ms).toBeLessThan(8000);
    },
  );

  it("fails with exit code 3 and one line for a Redis Cluster none of whose nodes answers", async () => {
    const [a, b] = [await closedPort(), await closedPort()];
    const r = await xenfleet(["hosts", "--redis", `redis+cluster://:secret@127.0.0.1:${a},127.0.0.1:${b}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot reach Redis at redis+cluster://:***@127.0.0.1:${a},127.0.0.1:${b}`);
    expect(r.stderr).not.toContain("secret");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("refuses a malformed Cluster URL as a usage error (exit code 2)", async () => {
    const r = await xenfleet(["hosts", "--redis", "redis+cluster://127.0.0.1:7000/0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("a Cluster URL is redis+cluster://");
  });
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

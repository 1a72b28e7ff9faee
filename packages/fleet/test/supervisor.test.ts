import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EXIT_CONFIG, Supervisor, type SupervisorEvent } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "xenfleet-supervisor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const node = (script: string) => ({
  command: process.execPath,
  args: ["-e", script],
  env: { PATH: process.env.PATH ?? "" },
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("Supervisor", () => {
  it("restarts a child that dies, and stops every child with SIGTERM", async () => {
    const events: SupervisorEvent[] = [];
    const sup = new Supervisor({ logDir: dir, backoffMs: 50, onEvent: (e) => events.push(e) });
    sup.start([
      { name: "crasher", ...node("console.log('up'); process.exit(3)") },
      // A well-behaved service: finishes its work on SIGTERM, then exits 0.
      {
        name: "steady",
        ...node("process.on('SIGTERM', () => { console.log('bye'); process.exit(0) }); setInterval(() => {}, 1000)"),
      },
    ]);
    // Two restarts, and the second one has run (stopping it before it printed would leave two lines).
    const ups = () => {
      try {
        return readFileSync(join(dir, "crasher.log"), "utf8").split("up\n").length - 1;
      } catch {
        return 0;
      }
    };
    await until(() => sup.restarts("crasher") >= 2 && ups() >= 3, "two restarts");
    expect(events.filter((e) => e.type === "exited" && e.name === "crasher")[0]).toMatchObject({
      code: 3,
      restartInMs: 50,
    });
    await sup.stop(10_000);
    expect(sup.pids()).toEqual({ crasher: undefined, steady: undefined });
    expect(events.at(-1)).toMatchObject({ type: "exited" });
    expect(events.find((e) => e.type === "exited" && e.name === "steady")).toMatchObject({ code: 0 });
    expect(readFileSync(join(dir, "steady.log"), "utf8")).toBe("bye\n");
    expect(readFileSync(join(dir, "crasher.log"), "utf8")).toMatch(/^(up\n){3,}$/);
  });

  it("does not restart a child that exits for bad configuration", async () => {
    const events: SupervisorEvent[] = [];
    const sup = new Supervisor({ logDir: dir, backoffMs: 20, onEvent: (e) => events.push(e) });
    sup.start([{ name: "misconfigured", ...node(`process.exit(${EXIT_CONFIG})`) }]);
    await until(() => events.some((e) => e.type === "exited"), "the exit");
    await new Promise((r) => setTimeout(r, 300));
    expect(sup.restarts("misconfigured")).toBe(0);
    expect(events.filter((e) => e.type === "exited")).toEqual([
      { type: "exited", name: "misconfigured", code: EXIT_CONFIG, signal: null },
    ]);
    await sup.stop(1000);
  });

  it("kills a child that ignores SIGTERM once the grace period is over", async () => {
    const sup = new Supervisor({ logDir: dir });
    sup.start([
      {
        name: "stubborn",
        ...node("process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"),
      },
    ]);
    await until(() => {
      try {
        return readFileSync(join(dir, "stubborn.log"), "utf8").includes("ready");
      } catch {
        return false;
      }
    }, "the child to start");
    await sup.stop(300);
    expect(sup.pids()).toEqual({ stubborn: undefined });
  });
});

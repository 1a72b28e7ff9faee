import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { isProcessRunning } from "../src/index.js";

describe("isProcessRunning", () => {
  it("sees this process and init", () => {
    expect(isProcessRunning(process.pid)).toBe(true);
    expect(isProcessRunning(1)).toBe(true);
  });

  it("does not see a process that has exited, or a pid no process can have", () => {
    const exited = spawnSync(process.execPath, ["-e", ""]).pid;
    expect(exited).toBeGreaterThan(0);
    expect(isProcessRunning(exited!)).toBe(false);
    for (const pid of [0, -1, Number.NaN, 1.5]) expect(isProcessRunning(pid)).toBe(false);
  });
});

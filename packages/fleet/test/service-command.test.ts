import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { SERVICE_NODE_FLAGS, serviceCommand } from "../src/index.js";

describe("serviceCommand", () => {
  it("runs a compress worker with the GC on its own thread, and this node takes the flags", () => {
    const { command, args } = serviceCommand("compress-worker");
    expect(command).toBe(process.execPath);
    expect(args).toContain("--single-threaded-gc");
    for (const flags of Object.values(SERVICE_NODE_FLAGS)) {
      expect(spawnSync(process.execPath, [...flags, "-e", "0"]).status).toBe(0);
    }
  });

  it("runs other services with no extra flags", () => {
    expect(
      serviceCommand("save-worker").args.filter(
        (a) => a.startsWith("--") && a !== "--conditions=source" && a !== "--import",
      ),
    ).toEqual([]);
  });
});

/**
 * `xenfleet run-host --log-dir -`, what a host container runs: the host's
 * three workers log to the command's own stdout (the container's log), each
 * line naming its service and host, and the host comes up.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { getHost } from "@xenfleet/jobs";
import {
  deletePrefix,
  fileUrl,
  nodeArgs,
  REDIS_URL,
  redis,
  start,
  stop,
  tempDir,
  testPrefix,
  until,
  type Proc,
} from "./helpers.js";

describe("run-host --log-dir -", () => {
  const dir = tempDir();
  const prefix = testPrefix();
  const conn = redis();
  let proc: Proc | undefined;

  afterAll(async () => {
    if (proc !== undefined) await stop(proc);
    await deletePrefix(conn, prefix);
    await conn.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it("puts every worker's log lines on its own stdout", async () => {
    proc = start(
      "run-host",
      [...nodeArgs("cli"), "run-host", "--sim-domains", "1", "--memory", "8M", "--log-dir", "-"],
      {
        XENFLEET_HOST: "host-1",
        XENFLEET_REDIS: REDIS_URL,
        XENFLEET_PREFIX: prefix,
        XENFLEET_STORE: fileUrl(join(dir, "store")),
        XENFLEET_SIM_DIR: join(dir, "sim"),
        XENFLEET_SIM_MEMORY: "1G",
      },
      dir,
    );
    await until("host-1 up", async () => ((await getHost(conn, prefix, "host-1"))?.state === "up" ? true : undefined));
    const started = await until("the three workers' start lines", () => {
      const lines = proc!
        .output()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { service?: string; host?: string; msg?: string });
      const services = new Set(lines.filter((l) => l.msg?.endsWith("started")).map((l) => `${l.service}@${l.host}`));
      return services.size === 3 ? services : undefined;
    });
    expect([...started].sort()).toEqual(["migrate-worker@host-1", "restore-worker@host-1", "save-worker@host-1"]);
  });
});

/**
 * A worker service started with a wrong setting says which one in one line
 * and exits EXIT_CONFIG (78), which the supervisor does not restart, rather
 * than dying on a stack trace a supervisor would restart for ever.
 */
import { spawnSync } from "node:child_process";
import { EXIT_CONFIG } from "@xenfleet/fleet";
import { describe, expect, it } from "vitest";
import { type Entry, nodeArgs, tempDir } from "./helpers.js";

const SERVICES: Entry[] = ["save-worker", "restore-worker", "compress-worker", "migrate-worker", "controller"];

describe("a service with a bad setting", () => {
  it.each(SERVICES)("%s names the variable and exits 78 without a stack trace", (service) => {
    const run = spawnSync(process.execPath, nodeArgs(service), {
      env: {
        PATH: process.env.PATH,
        XENFLEET_HOST: "host-1",
        XENFLEET_STATE_DIR: tempDir(),
        XENFLEET_METRICS_PORT: "not-a-port",
      },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.status).toBe(EXIT_CONFIG);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${service}: .*XENFLEET_METRICS_PORT.*XF_CONFIG_INVALID`));
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});

describe("a service with per-store credentials", () => {
  it.each(SERVICES)("%s reads its store's own variables: half a key pair is named, exit 78", (service) => {
    const run = spawnSync(process.execPath, nodeArgs(service), {
      env: {
        PATH: process.env.PATH,
        XENFLEET_HOST: "host-1",
        XENFLEET_SIM_DIR: tempDir(),
        XENFLEET_STORES: "main=file:///srv/images,cold=s3://cold-images?endpoint=http://127.0.0.1:9",
        XENFLEET_STORE_COLD_ACCESS_KEY_ID: "COLDKEY",
      },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.status).toBe(EXIT_CONFIG);
    expect(run.stderr).toMatch(
      new RegExp(
        `^${service}: store cold: set both XENFLEET_STORE_COLD_ACCESS_KEY_ID and XENFLEET_STORE_COLD_SECRET_ACCESS_KEY`,
        "m",
      ),
    );
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});

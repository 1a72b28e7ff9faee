import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { SimHost } from "@xenfleet/hypervisor";
import { afterEach, describe, expect, it } from "vitest";
import { type EmbeddedFleet, prepareSimHosts, simDir } from "../src/index.js";

const MiB = 2 ** 20;

describe("prepareSimHosts (xenfleet up)", () => {
  let stateDir = "";
  afterEach(async () => {
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  function fleet(dir: string): EmbeddedFleet {
    return {
      hosts: 2,
      domains: 2,
      domainMemoryBytes: 1 * MiB,
      hostMemoryBytes: 64 * MiB,
      dirtyPagesPerSec: 0,
      compressWorkers: 1,
      redis: "redis://127.0.0.1:6379",
      prefix: "unused",
      store: "file:///unused",
      stateDir: dir,
    };
  }

  async function everyDomain(dir: string): Promise<Array<[string, string, string]>> {
    const all: Array<[string, string, string]> = [];
    for (const host of ["host-1", "host-2"])
      for (const d of await (await SimHost.open(simDir(dir, host))).listDomains()) all.push([host, d.name, d.uuid]);
    return all.sort((a, b) => a[1].localeCompare(b[1]));
  }

  it("restarted over its state, reuses every domain, also one that migrated to another host", async () => {
    stateDir = await mkdtemp(join(tmpdir(), "xenfleet-embedded-"));
    expect(await prepareSimHosts(fleet(stateDir))).toHaveLength(4);
    const first = await everyDomain(stateDir);

    // host-1-vm-1 moves to host-2, keeping its uuid, as a migration leaves it.
    const [, , uuid] = first.find(([, name]) => name === "host-1-vm-1")!;
    const from = await SimHost.open(simDir(stateDir, "host-1"));
    const to = await SimHost.open(simDir(stateDir, "host-2"));
    const wire = new PassThrough();
    await Promise.all([from.save(uuid, wire, { mode: "suspend" }), to.restore(wire)]);

    expect(await prepareSimHosts(fleet(stateDir))).toEqual([]);
    const again = await everyDomain(stateDir);
    expect(again.map(([, name, id]) => [name, id])).toEqual(first.map(([, name, id]) => [name, id]));
    expect(again.find(([, name]) => name === "host-1-vm-1")?.[0]).toBe("host-2");
  });
});

/**
 * Domains across a fleet, through the CLI: the registry shows what a restore
 * or an evacuation did as soon as the command returns (the heartbeat here is
 * a minute, so only the workers' own updates can explain it); a restore
 * refuses a uuid the fleet already runs, and with --new-uuid makes a copy
 * with its own identity in its config; clones of a template each run as their
 * own domain and store, at their next save, only what they changed. Two sim
 * hosts with their save, restore and migrate workers and the controller, as
 * separate processes, against the real Redis.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StreamDecoder } from "@xenfleet/format";
import { SimHost } from "@xenfleet/hypervisor";
import { listHosts, type RedisClient } from "@xenfleet/jobs";
import {
  cli,
  deletePrefix,
  fileUrl,
  nodeArgs,
  redis,
  REDIS_URL,
  start,
  stop,
  tempDir,
  testPrefix,
  until,
  type Proc,
} from "./helpers.js";

const MiB = 2 ** 20;
const HOSTS = ["host-1", "host-2"];

interface Listed {
  host: string;
  domain: string;
  uuid: string;
  state: string;
}

describe("domains across the fleet: the registry at once, unique uuids, clones", () => {
  const prefix = testPrefix();
  const dir = tempDir();
  const storeUrl = fileUrl(join(dir, "store"));
  const fleet = ["--redis", REDIS_URL, "--prefix", prefix];
  const store = ["--store", storeUrl];
  const simDir = (host: string) => join(dir, "hosts", host);
  const procs: Proc[] = [];
  let conn: RedisClient;

  async function json(args: string[], code = 0): Promise<Record<string, unknown>> {
    // The CLI knows the fleet's store as its workers do (XENFLEET_STORE, so "main").
    const r = await cli([...args, "--json"], { XENFLEET_STORE: storeUrl });
    expect(r.code, `${args.join(" ")}: ${r.stdout}\n${r.stderr}`).toBe(code);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }
  const domains = async () => (await json(["domains", ...fleet])).domains as Listed[];
  const saveImage = async (host: string, domain: string) =>
    String((await json(["save", host, domain, "--wait", "--no-compress", ...fleet, ...store])).imageId);

  beforeAll(async () => {
    conn = redis();
    for (const host of HOSTS) {
      const sim = await SimHost.open(simDir(host), { name: host, totalMemoryBytes: 256 * MiB });
      for (const n of [1, 2])
        await sim.createDomain({ name: `${host}-vm-${n}`, type: "pv", memoryBytes: 8 * MiB, dirtyPagesPerSec: 20 });
    }
    // A template: a domain that writes nothing, so its copies differ only where they are made to.
    const first = await SimHost.open(simDir("host-1"));
    await first.createDomain({ name: "template", type: "pv", memoryBytes: 8 * MiB, dirtyPagesPerSec: 0 });

    const env = { XENFLEET_REDIS: REDIS_URL, XENFLEET_PREFIX: prefix, XENFLEET_STORE: storeUrl };
    procs.push(start("controller", nodeArgs("controller"), env, dir));
    for (const host of HOSTS) {
      const hostEnv = {
        ...env,
        XENFLEET_HOST: host,
        XENFLEET_SIM_DIR: simDir(host),
        // One beat at start, the next a minute later: nothing below waits for one.
        XENFLEET_HEARTBEAT_MS: "60000",
        XENFLEET_HOST_ADDRESS: "127.0.0.1",
        XENFLEET_MIGRATE_AGENT: "0",
        XENFLEET_MIGRATE_BIND: "127.0.0.1",
      };
      for (const worker of ["save-worker", "restore-worker", "migrate-worker"] as const)
        procs.push(start(`${host}-${worker}`, nodeArgs(worker), hostEnv, dir));
    }
    await until(
      "both hosts to report up",
      async () => ((await listHosts(conn, prefix)).filter((h) => h.state === "up").length === 2 ? true : undefined),
      90_000,
    );
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => stop(p)));
    await deletePrefix(conn, prefix);
    await conn.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses to restore a uuid that runs on a host, naming it, and makes a copy with --new-uuid", async () => {
    const original = (await domains()).find((d) => d.domain === "host-1-vm-1")!;
    const imageId = await saveImage("host-1", "host-1-vm-1");

    const elsewhere = await json(["restore", imageId, "--host", "host-2", "--wait", ...fleet, ...store], 2);
    expect(elsewhere.error).toMatchObject({ code: "XF_CLI_UUID_IN_USE" });
    expect((elsewhere.error as { message: string }).message).toBe(
      `domain ${original.uuid} already runs on host-1 (as host-1-vm-1); restore with --new-uuid for a copy with its own uuid and name`,
    );
    // On its own host under another name: the same clear refusal, not the hypervisor's "exists".
    const renamed = await json(["restore", imageId, "--host", "host-1", "--name", "again", ...fleet, ...store], 2);
    expect((renamed.error as { message: string }).message).toMatch(/already runs on host-1 \(as host-1-vm-1\)/);

    const copy = await json(["restore", imageId, "--host", "host-2", "--new-uuid", "--wait", ...fleet, ...store]);
    expect(copy.uuid).not.toBe(original.uuid);
    expect(copy.domain).toBe(`host-1-vm-1-${String(copy.uuid).slice(0, 8)}`);
    // Registered as soon as the restore returned (the next heartbeat is a minute away).
    expect((await domains()).filter((d) => d.uuid === copy.uuid)).toEqual([
      { host: "host-2", domain: copy.domain, uuid: copy.uuid, state: "running", memory: 8 * MiB },
    ]);
    // The new identity is the domain's own: its config, as a save writes it in the xl header, says so.
    expect(await configIdentity(simDir("host-2"), String(copy.uuid))).toEqual({ name: copy.domain, uuid: copy.uuid });
  });

  it("clones a template into domains of their own whose next batch stores only what they changed", async () => {
    const template = await saveImage("host-1", "template");
    const cloned = await json([
      "clone",
      template,
      "--host",
      "host-2",
      "--name",
      "web",
      "--count",
      "3",
      "--wait",
      ...fleet,
      ...store,
    ]);
    const clones = cloned.clones as Array<{ domain: string; uuid: string }>;
    expect(clones.map((c) => c.domain)).toEqual(["web-1", "web-2", "web-3"]);
    expect(new Set(clones.map((c) => c.uuid)).size).toBe(3);
    const listed = (await domains()).filter((d) => d.domain.startsWith("web-"));
    expect(listed.map((d) => [d.host, d.domain, d.uuid, d.state])).toEqual(
      clones.map((c) => ["host-2", c.domain, c.uuid, "running"]),
    );

    // Each clone changes some pages of its own; web-3 changes none.
    const sim = await SimHost.open(simDir("host-2"));
    const changes = new Map([
      ["web-1", 40],
      ["web-2", 200],
      ["web-3", 0],
    ]);
    for (const [name, pages] of changes) if (pages > 0) await sim.writePages(name, pages);

    const batch = await json(["batch-save", "--hosts", "host-2", "--wait", "--no-compress", ...fleet, ...store]);
    expect(batch).toMatchObject({ ok: true, failed: 0 });
    type Image = { imageId: string; domain: string; bytesTotal: number; bytesNew: number; parent: string | null };
    for (const [name, pages] of changes) {
      const [image] = (await json(["image", "ls", "--domain", name, "--latest", ...store])).images as Image[];
      expect(image!.parent, name).toBe(template);
      // The changed pages, and the image's own page list and manifest: a few KiB per MiB of memory at most.
      expect(image!.bytesNew, name).toBeGreaterThanOrEqual(pages * 4096);
      expect(image!.bytesNew, name).toBeLessThanOrEqual(pages * 4096 + 96 * 1024);
      expect(image!.bytesTotal).toBeGreaterThan(8 * MiB);
    }
  });

  it("lists every domain on its new host as soon as evacuate --wait returns", async () => {
    const before = await domains();
    const leaving = before.filter((d) => d.host === "host-1");
    expect(leaving.length).toBeGreaterThanOrEqual(3);
    const report = await json(["evacuate", "host-1", "--wait", ...fleet]);
    expect(report).toMatchObject({ ok: true });
    const after = await domains();
    expect(after.filter((d) => d.host === "host-1")).toEqual([]);
    for (const d of leaving)
      expect(after.find((a) => a.uuid === d.uuid)).toMatchObject({ host: "host-2", state: "running" });
    expect(after).toHaveLength(before.length);
    await json(["hosts", "undrain", "host-1", ...fleet]);
  });
});

/** The name and uuid in a sim domain's config, as its save stream's xl header carries them. */
async function configIdentity(hostDir: string, uuid: string): Promise<{ name: unknown; uuid: unknown }> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  await (await SimHost.open(hostDir)).save(uuid, sink, { mode: "checkpoint" });
  const header = new StreamDecoder({ format: "xl" }).push(Buffer.concat(chunks)).find((e) => e.kind === "xl-header");
  if (header?.kind !== "xl-header" || header.configText === undefined) throw new Error("no xl header config");
  const config = JSON.parse(header.configText) as { c_info: { name: unknown; uuid: unknown } };
  return { name: config.c_info.name, uuid: config.c_info.uuid };
}

import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { PAGE_SIZE, samplePage, StreamWriter, writeSampleStream, type DomainTypeName } from "@xenfleet/format";
import { XenfleetError } from "@xenfleet/core";
import { afterAll, describe, expect, it } from "vitest";
import {
  DomainBusyError,
  InsufficientMemoryError,
  MigrationTimeoutError,
  SimHost,
  StreamContentError,
  type DomainType,
  type SaveMode,
} from "@xenfleet/hypervisor";
import { Collector } from "@xenfleet/hypervisor/testing";
import { incoming, MiB, removeTempDirs, tempDir, throttledSink, verifierPresent, verifyStream } from "./helpers.js";

afterAll(removeTempDirs);

describe("sim state directory", () => {
  it("a new SimHost on the same directory sees the same domains and digests", async () => {
    const dir = join(await tempDir("persist"), "host");
    const first = await SimHost.open(dir);
    await first.createDomain({ name: "pv1", type: "pv", memoryBytes: 16 * MiB, vcpus: 2, seed: 1 });
    await first.createDomain({ name: "hvm1", type: "hvm", memoryBytes: 32 * MiB, seed: 2, paused: true });
    const before = await Promise.all(
      (await first.listDomains()).map(async (d) => ({ d, digest: await first.digest(d.uuid) })),
    );

    const second = await SimHost.open(dir);
    expect(await second.listDomains()).toEqual(before.map((x) => x.d));
    for (const { d, digest } of before) expect(await second.digest(d.uuid)).toEqual(digest);
    expect(await second.hostInfo()).toEqual(await first.hostInfo());
  });

  it("the same seed gives the same memory on any host", async () => {
    const base = await tempDir("seed");
    const a = await SimHost.open(join(base, "a"));
    const b = await SimHost.open(join(base, "b"));
    const da = await a.createDomain({ name: "x", type: "pv", memoryBytes: 16 * MiB, seed: 42 });
    const db = await b.createDomain({ name: "y", type: "pv", memoryBytes: 16 * MiB, seed: 42 });
    const dc = await b.createDomain({ name: "z", type: "pv", memoryBytes: 16 * MiB, seed: 43 });
    expect((await a.digest(da.uuid)).memory).toBe((await b.digest(db.uuid)).memory);
    expect((await b.digest(dc.uuid)).memory).not.toBe((await b.digest(db.uuid)).memory);
  });

  it("a running domain writes its memory as time passes; a paused one does not", async () => {
    const host = await SimHost.open(join(await tempDir("dirty"), "h"));
    const d = await host.createDomain({ name: "busy", type: "hvm", memoryBytes: 16 * MiB, dirtyPagesPerSec: 50_000 });
    const t0 = await host.digest(d.uuid);
    await new Promise((r) => setTimeout(r, 50));
    const t1 = await host.digest(d.uuid);
    expect(t1.memory).not.toBe(t0.memory);
    await host.pause(d.uuid);
    const p0 = await host.digest(d.uuid);
    await new Promise((r) => setTimeout(r, 50));
    expect((await host.digest(d.uuid)).memory).toBe(p0.memory);
  });

  it("breaks a lock whose owner died, and waits on one whose owner lives", async () => {
    const dir = join(await tempDir("lock"), "h");
    const host = await SimHost.open(dir, { lockWaitMs: 100 });
    const d = await host.createDomain({ name: "l", type: "pv", memoryBytes: 16 * MiB });
    const lock = join(dir, "domains", `${d.uuid}.lock`);

    await writeFile(lock, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), start: "1" }));
    await host.pause(d.uuid);
    expect((await host.domainInfo(d.uuid)).state).toBe("paused");

    const child = spawn("sleep", ["30"]);
    try {
      const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
      const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
      await writeFile(lock, JSON.stringify({ pid: child.pid, host: hostname(), start }));
      await expect(host.unpause(d.uuid)).rejects.toBeInstanceOf(DomainBusyError);
    } finally {
      child.kill();
    }
  });
});

describe.skipIf(!verifierPresent && !process.env.CI)("saved streams pass Xen's verify-stream-v2", () => {
  it("is installed (required in CI)", () => {
    expect(verifierPresent).toBe(true);
  });
  const cases: Array<[DomainType, SaveMode]> = [];
  for (const type of ["pv", "hvm", "pvh"] as const)
    for (const mode of ["suspend", "checkpoint", "live"] as const) cases.push([type, mode]);
  it.each(cases)("%s domain, %s save", async (type, mode) => {
    const base = await tempDir("verify");
    const host = await SimHost.open(join(base, "h"));
    const d = await host.createDomain({
      name: "v",
      type,
      memoryBytes: 16 * MiB,
      vcpus: 2,
      dirtyPagesPerSec: mode === "live" ? 20_000 : 0,
    });
    const file = join(base, "image.xl");
    const image = new Collector();
    const report = await host.save(d.uuid, image, {
      mode,
      live: { maxIterations: 3, maxDowntimeMs: 0, dirtyPagesThreshold: 0 },
    });
    await writeFile(file, image.bytes());
    const out = await verifyStream(file);
    expect(out).toContain(type === "pv" ? "x86 PV" : "x86 HVM");
    expect(out).toMatch(/Libxl Record: End/);
    if (mode === "live") expect(report.iterations).toBe(3);
  });
});

describe("restore of streams the sim did not write", () => {
  const cases: Array<[DomainTypeName, "xl" | "libxl" | "libxc"]> = [
    ["x86-pv", "xl"],
    ["x86-hvm", "xl"],
    ["x86-hvm", "libxl"],
    ["x86-pv", "libxc"],
  ];
  it.each(cases)("format's sample stream, %s, %s layer", async (domainType, layers) => {
    const host = await SimHost.open(join(await tempDir("sample"), "h"));
    const pages = 3000;
    const image = new Collector();
    await writeSampleStream(image, { domainType, pages, layers, seed: 9, vcpus: 2 });
    const d = await host.restore(Readable.from([image.bytes()]));
    expect(d.type).toBe(domainType === "x86-pv" ? "pv" : "hvm");
    expect(d.memoryBytes).toBe(pages * PAGE_SIZE);
    // The memory digest, computed independently from the sample's page function.
    const h = createHash("sha256");
    for (let pfn = 0; pfn < pages; pfn++) h.update(samplePage(9, pfn));
    expect((await host.digest(d.uuid)).memory).toBe(h.digest("hex"));
    // Saved again, it restores to the same state elsewhere.
    const again = new Collector();
    await host.save(d.uuid, again, { mode: "checkpoint" });
    const other = await SimHost.open(join(await tempDir("sample2"), "h"));
    const d2 = await other.restore(Readable.from([again.bytes()]));
    expect((await other.digest(d2.uuid)).digest).toBe((await host.digest(d.uuid)).digest);
  });

  it("a later copy of a page wins, as in pre-copy streams", async () => {
    const host = await SimHost.open(join(await tempDir("later"), "h"));
    const image = new Collector();
    const w = new StreamWriter(image, {
      domainType: "x86-hvm",
      config: { c_info: { type: "hvm", name: "twice" }, b_info: { max_memkb: 64 } },
    });
    const a = new Uint8Array(PAGE_SIZE).fill(1);
    const b = new Uint8Array(PAGE_SIZE).fill(2);
    await w.begin();
    await w.libxc("STATIC_DATA_END", {});
    await w.pageData(
      [
        { pfn: 3, type: 0 },
        { pfn: 5, type: 0 },
      ],
      [a, a],
    );
    await w.pageData(
      [
        { pfn: 3, type: 0 },
        { pfn: 5, type: 0 },
      ],
      [b, new Uint8Array(PAGE_SIZE)],
    );
    await w.libxc("HVM_CONTEXT", { data: new Uint8Array(16) });
    await w.end();
    const d = await host.restore(Readable.from([image.bytes()]));
    const h = createHash("sha256");
    for (let pfn = 0; pfn < 16; pfn++) h.update(pfn === 3 ? b : new Uint8Array(PAGE_SIZE));
    expect((await host.digest(d.uuid)).memory).toBe(h.digest("hex"));
  });
});

describe("hostile streams on restore", () => {
  async function crafted(
    build: (w: StreamWriter) => Promise<void>,
    domainType: DomainTypeName,
    config: unknown,
  ): Promise<Buffer> {
    const image = new Collector();
    const w = new StreamWriter(image, { domainType, config });
    await w.begin();
    await build(w);
    await w.end();
    return image.bytes();
  }
  const page = new Uint8Array(PAGE_SIZE).fill(7);
  const cases: Array<[string, () => Promise<Buffer>, abstract new (...a: never[]) => Error]> = [
    ["garbage", async () => Buffer.from("this is not a Xen stream at all, not even close."), XenfleetError],
    [
      "a page beyond the configured memory",
      () =>
        crafted(
          async (w) => {
            await w.libxc("STATIC_DATA_END", {});
            await w.pageData([{ pfn: 4096, type: 0 }], [page]);
            await w.libxc("HVM_CONTEXT", { data: new Uint8Array(8) });
          },
          "x86-hvm",
          { c_info: { type: "hvm", name: "big" }, b_info: { max_memkb: 16 * 1024 } },
        ),
      StreamContentError,
    ],
    [
      "a config type that contradicts the stream",
      () =>
        crafted(async (w) => void (await w.libxc("STATIC_DATA_END", {})), "x86-hvm", {
          c_info: { type: "pv", name: "liar" },
        }),
      StreamContentError,
    ],
    [
      "more memory than the host has",
      () =>
        crafted(async (w) => void (await w.libxc("STATIC_DATA_END", {})), "x86-hvm", {
          c_info: { type: "hvm", name: "huge" },
          b_info: { max_memkb: 2 ** 40 },
        }),
      InsufficientMemoryError,
    ],
    [
      "an HVM stream without vCPU state",
      () =>
        crafted(
          async (w) => {
            await w.libxc("STATIC_DATA_END", {});
            await w.pageData([{ pfn: 1, type: 0 }], [page]);
          },
          "x86-hvm",
          { c_info: { type: "hvm", name: "novcpu" }, b_info: { max_memkb: 1024 } },
        ),
      StreamContentError,
    ],
  ];
  it.each(cases)("%s: typed error, no domain left behind", async (_name, make, errorClass) => {
    const dir = join(await tempDir("hostile"), "h");
    const host = await SimHost.open(dir);
    await expect(host.restore(Readable.from([await make()]))).rejects.toBeInstanceOf(errorClass);
    expect(await host.listDomains()).toEqual([]);
    expect(await incoming(dir)).toEqual([]);
  });

  it("a stream cut anywhere after the headers fails typed, no domain left behind", async () => {
    const dir = join(await tempDir("cut"), "h");
    const host = await SimHost.open(dir);
    const d = await host.createDomain({ name: "src", type: "pv", memoryBytes: 16 * MiB });
    const image = new Collector();
    await host.save(d.uuid, image, { mode: "suspend" });
    const whole = image.bytes();
    for (let i = 1; i < 8; i++) {
      const cut = Math.floor((whole.length * i) / 8) + i;
      await expect(host.restore(Readable.from([whole.subarray(0, cut)]))).rejects.toBeInstanceOf(XenfleetError);
    }
    expect(await host.listDomains()).toEqual([]);
    expect(await incoming(dir)).toEqual([]);
  });
});

describe("live pre-copy", () => {
  it("resends dirtied pages each pass and the image holds the state at the paused point", async () => {
    const base = await tempDir("live");
    const host = await SimHost.open(join(base, "a"));
    const d = await host.createDomain({ name: "live", type: "pv", memoryBytes: 32 * MiB, dirtyPagesPerSec: 20_000 });
    const sink = throttledSink(64 * MiB);
    const tee = new PassThrough();
    const image: Buffer[] = [];
    tee.on("data", (c: Buffer) => image.push(c));
    tee.pipe(sink);
    const report = await host.save(d.uuid, tee, {
      mode: "live",
      live: { maxIterations: 4, maxDowntimeMs: 0, dirtyPagesThreshold: 0 },
    });
    expect(report.stopReason).toBe("max-iterations");
    expect(report.iterations).toBe(4);
    expect(report.pagesPerIteration[0]).toBe(8192);
    for (const n of report.pagesPerIteration.slice(1, 3)) expect(n).toBeGreaterThan(0);
    expect((await host.domainInfo(d.uuid)).state).toBe("running");
    // The save is done once the tee took every byte; the throttled sink may
    // still hold some back from the tee's readable side.
    await finished(tee);
    const other = await SimHost.open(join(base, "b"));
    const r = await other.restore(Readable.from([Buffer.concat(image)]));
    expect((await other.digest(r.uuid)).digest).toBe(report.digest);
  });

  it("stops as soon as the dirty set is small enough (a paused domain converges at once)", async () => {
    const host = await SimHost.open(join(await tempDir("conv"), "h"));
    const d = await host.createDomain({ name: "idle", type: "hvm", memoryBytes: 16 * MiB, paused: true });
    const report = await host.save(d.uuid, new Collector(), { mode: "live" });
    expect(report.stopReason).toBe("dirty-threshold");
    expect(report.pagesPerIteration).toEqual([4096, 0]);
    expect((await host.domainInfo(d.uuid)).state).toBe("paused");
  });

  it("timeout with action abort fails and leaves the domain running", async () => {
    const host = await SimHost.open(join(await tempDir("timeout"), "h"));
    const d = await host.createDomain({ name: "t", type: "pv", memoryBytes: 16 * MiB, dirtyPagesPerSec: 20_000 });
    const live = { timeoutMs: 0, timeoutAction: "abort" as const, dirtyPagesThreshold: -1, maxDowntimeMs: -1 };
    await expect(host.save(d.uuid, new Collector(), { mode: "live", live })).rejects.toBeInstanceOf(
      MigrationTimeoutError,
    );
    expect((await host.domainInfo(d.uuid)).state).toBe("running");
    const forced = await host.save(d.uuid, new Collector(), {
      mode: "live",
      live: { ...live, timeoutAction: "force" },
    });
    expect(forced.stopReason).toBe("timeout");
  });

  it("restoring a file saved to disk works from a file stream", async () => {
    const base = await tempDir("file");
    const host = await SimHost.open(join(base, "h"));
    const d = await host.createDomain({ name: "f", type: "pvh", memoryBytes: 16 * MiB, paused: true });
    const before = await host.digest(d.uuid);
    const file = join(base, "f.xl");
    await host.save(d.uuid, createWriteStream(file), { mode: "suspend" });
    const r = await host.restore(createReadStream(file), { uuid: randomUUID() });
    expect(r.type).toBe("pvh");
    expect((await host.digest(r.uuid)).digest).toBe(before.digest);
  });
});

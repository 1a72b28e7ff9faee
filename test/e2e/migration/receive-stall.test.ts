/**
 * A receive job whose sender stops mid-stream ends on its own: two hosts,
 * each a migrate-worker process. A throttled live migration is under way
 * when the source's worker is stopped with SIGSTOP; the target's receive
 * job fails after its stall timeout (XENFLEET_MIGRATE_STALL_TIMEOUT_MS) with
 * a clear reason and the migration recorded aborted. Resumed, the source
 * keeps its domain running; the target holds no copy.
 */
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poll } from "@xenfleet/core";
import { SimHost } from "@xenfleet/hypervisor";
import { bullPrefix, hostQueue, listHosts, parseProgress } from "@xenfleet/jobs";
import { REDIS_URL, testRedis } from "@xenfleet/jobs/testing";
import { MigrationRecord } from "@xenfleet/migration";
import { cli } from "../helpers.js";
import { TestFleet, waitForHosts, waitForJob } from "./test-fleet.js";

const MiB = 2 ** 20;
let fleet: TestFleet;
let r: ReturnType<typeof testRedis>;

beforeAll(async () => {
  r = testRedis();
  fleet = await TestFleet.create(r.prefix);
  for (const h of ["a", "b"]) await SimHost.open(fleet.simDir(h), { name: h, totalMemoryBytes: 128 * MiB });
  fleet.startWorker("a", { XENFLEET_SIM_MEMORY: "128M" });
  fleet.startWorker("b", { XENFLEET_SIM_MEMORY: "128M", XENFLEET_MIGRATE_STALL_TIMEOUT_MS: "3000" });
  await waitForHosts(r.redis, r.prefix, ["a", "b"]);
});

afterAll(async () => {
  fleet?.procs.get("a-migrate")?.child.kill("SIGCONT");
  await fleet?.close();
  await r?.cleanup();
});

describe("a receive job whose sender stalls", () => {
  it("ends after the stall timeout with the reason; the domain stays on its source, running", async () => {
    const a = await SimHost.open(fleet.simDir("a"));
    const b = await SimHost.open(fleet.simDir("b"));
    const dom = await a.createDomain({ name: "slow", type: "pv", memoryBytes: 32 * MiB });
    await poll(
      "the domain registered",
      async () =>
        (await listHosts(r.redis, r.prefix)).find((h) => h.id === "a")?.info?.domains.length ? true : undefined,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    // 2 MB/s: the 32 MiB domain takes about 16 s to send, time to stop the sender mid-stream.
    const queued = await cli(
      ["migrate", "slow", "--to", "b", "--bandwidth", "2M", "--json", "--redis", REDIS_URL, "--prefix", r.prefix],
      {},
    );
    expect(queued.code).toBe(0);
    const { migrationId } = JSON.parse(queued.stdout) as { migrationId: string };
    const sendQ = new Queue(hostQueue("migrate-send", "a"), { connection: r.redis, prefix: bullPrefix(r.prefix) });
    try {
      await poll(
        "the send under way",
        async () => {
          const p = parseProgress("migrate-send", (await sendQ.getJob(`${migrationId}-send`))?.progress);
          return (p?.bytes ?? 0) > 0 ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
    } finally {
      await sendQ.close();
    }
    const source = fleet.procs.get("a-migrate")!.child;
    source.kill("SIGSTOP");
    try {
      const recv = await waitForJob(r.redis, r.prefix, hostQueue("migrate-recv", "b"), `${migrationId}-recv`, 60_000);
      expect(recv.failedReason).toMatch(/no data from the sender within 3000 ms/);
      expect(await new MigrationRecord(r.redis, r.prefix, migrationId).outcome()).toBe("aborted");
      expect(await b.listDomains()).toEqual([]);
    } finally {
      source.kill("SIGCONT");
    }
    const send = await waitForJob(r.redis, r.prefix, hostQueue("migrate-send", "a"), `${migrationId}-send`, 60_000);
    expect(send.failedReason).toBeTruthy();
    expect((await a.domainInfo(dom.uuid)).state).toBe("running");
    expect(await b.listDomains()).toEqual([]);
  });
});

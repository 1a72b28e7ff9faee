/**
 * Live migrations under faults, between migrate workers running as separate
 * processes: the receiving worker killed mid-transfer (the host dies, the
 * connection drops with it), the sending worker killed mid-transfer, and
 * runs with no fault, in turn, each striking at a random point (CHAOS_SEED). Each killed worker is
 * brought back. After each migration both jobs settle and the domain exists
 * exactly once, running, with its memory.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { FlowProducer, Job, Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost } from "@xenfleet/hypervisor";
import { bullPrefix, createRedis, hostQueue, JOB_SPECS, jobData, listHosts, type RedisClient } from "@xenfleet/jobs";
import { checkDomains, waitForJobsSettled, type ExpectedDomain } from "./invariants.js";
import {
  CHAOS_SEED,
  SHARED_REDIS,
  ServiceProc,
  chaosPrefix,
  deletePrefix,
  seededRandom,
  sleep,
  tempDir,
  until,
} from "./procs.js";

const MiB = 2 ** 20;
const MIGRATIONS = Number(process.env.CHAOS_MIGRATIONS ?? 6);
type Fault = "none" | "kill-receiver" | "kill-sender";

describe("live migrations with workers killed midway", () => {
  const prefix = chaosPrefix();
  const dir = tempDir();
  const simDir = (host: string) => join(dir, "hosts", host);
  const random = seededRandom(CHAOS_SEED + 1);
  const workers = new Map<string, ServiceProc>();
  let conn: RedisClient;
  let flows: FlowProducer;

  beforeAll(async () => {
    conn = createRedis(SHARED_REDIS, "producer", "xenfleet-chaos");
    flows = new FlowProducer({ connection: conn, prefix: bullPrefix(prefix) });
    for (const host of ["m1", "m2"]) {
      await SimHost.open(simDir(host), { name: host, totalMemoryBytes: 512 * MiB });
      const env = {
        XENFLEET_REDIS: SHARED_REDIS,
        XENFLEET_PREFIX: prefix,
        XENFLEET_STORE: pathToFileURL(join(dir, "store")).href,
        XENFLEET_LOG_LEVEL: "info",
        XENFLEET_HOST: host,
        XENFLEET_SIM_DIR: simDir(host),
        XENFLEET_HOST_ADDRESS: "127.0.0.1",
        XENFLEET_MIGRATE_BIND: "127.0.0.1",
        XENFLEET_HEARTBEAT_MS: "500",
        XENFLEET_MIGRATE_TOKEN_TTL_MS: "15000",
      };
      const proc = new ServiceProc(`migrate-${host}`, "migrate-worker", env, dir);
      workers.set(host, proc);
      proc.start();
    }
    await until(
      "both hosts up",
      async () => ((await listHosts(conn, prefix)).filter((h) => h.state === "up").length === 2 ? true : undefined),
      60_000,
    );
  });

  afterAll(async () => {
    await Promise.all([...workers.values()].map((p) => p.stop()));
    await flows?.close();
    await deletePrefix(conn, prefix);
    await conn?.quit();
    if (process.env.CHAOS_KEEP === "1") console.log(`chaos: logs and state kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it(`keeps every domain exactly once across ${MIGRATIONS} migrations with random kills`, async () => {
    const faults: Record<Fault, number> = { none: 0, "kill-receiver": 0, "kill-sender": 0 };
    const outcomes: string[] = [];
    const expected: ExpectedDomain[] = [];
    const m1 = await SimHost.open(simDir("m1"));
    for (let i = 0; i < MIGRATIONS; i++) {
      const d = await m1.createDomain({ name: `mig-${i}`, type: i % 2 === 0 ? "pv" : "hvm", memoryBytes: 8 * MiB });
      expected.push({ uuid: d.uuid, name: d.name, digest: (await m1.digest(d.uuid)).digest });
    }

    for (let i = 0; i < MIGRATIONS; i++) {
      const d = expected[i]!;
      const id = `chaos-${i}`;
      // Every kind of fault, in turn; where in the transfer it strikes is random.
      const fault: Fault = (["none", "kill-receiver", "kill-sender"] as const)[i % 3]!;
      faults[fault]++;
      const opts = { ...JOB_SPECS["migrate-send"].options, attempts: 1 };
      const domain = { uuid: d.uuid, name: d.name };
      // 4 MiB/s: a transfer takes a couple of seconds, room to kill it in the middle.
      await flows.addBulk([
        {
          name: "migrate-recv",
          queueName: hostQueue("migrate-recv", "m2"),
          data: jobData("migrate-recv", { migrationId: id, host: "m2", source: "m1", domain }),
          opts: { ...opts, jobId: `${id}-recv` },
        },
        {
          name: "migrate-send",
          queueName: hostQueue("migrate-send", "m1"),
          data: jobData("migrate-send", {
            migrationId: id,
            host: "m1",
            target: "m2",
            domain,
            mode: "live",
            compress: false,
            bandwidth: 4 * MiB,
          }),
          opts: { ...opts, jobId: `${id}-send` },
        },
      ]);
      if (fault !== "none") {
        const sendQueue = new Queue(hostQueue("migrate-send", "m1"), { connection: conn, prefix: bullPrefix(prefix) });
        try {
          // Somewhere between 5% and 80% of the transfer.
          const at = 5 + random() * 75;
          await until(
            `migration ${id} to reach ${at.toFixed(0)}%`,
            async () => {
              const job = await Job.fromId(sendQueue, `${id}-send`);
              if (job?.finishedOn !== undefined) return true;
              return ((job?.progress as { percent?: number } | undefined)?.percent ?? 0) >= at ? true : undefined;
            },
            60_000,
          );
        } finally {
          await sendQueue.close();
        }
        const victim = workers.get(fault === "kill-receiver" ? "m2" : "m1")!;
        await victim.kill();
        await sleep(200 + random() * 800);
        victim.start();
      }
      const jobs = [
        { queue: hostQueue("migrate-send", "m1"), id: `${id}-send` },
        { queue: hostQueue("migrate-recv", "m2"), id: `${id}-recv` },
      ];
      // A job whose worker was killed comes back by stalled-job recovery (lock 30 s + check 15 s).
      const settled = await waitForJobsSettled(conn, prefix, () => jobs, 150_000);
      expect(settled.violations, `after ${id} (${fault})`).toEqual([]);
      outcomes.push(
        `${id} (${fault}): ${settled.outcomes.map((o) => `${o.name} ${o.state}${o.failedReason ? ` [${o.failedReason.slice(0, 120)}]` : ""}`).join(", ")}`,
      );
      // The domain is in exactly one place, running, with its memory, before the next migration starts.
      const violations = await until(
        `domain ${d.name} to be in one place`,
        async () => {
          const v = await checkDomains([simDir("m1"), simDir("m2")], [d]);
          return v.length === 0 ? v : undefined;
        },
        30_000,
      ).catch(async () => checkDomains([simDir("m1"), simDir("m2")], [d]));
      expect(violations, `after ${id} (${fault})`).toEqual([]);
    }
    console.log(
      JSON.stringify({
        chaos: "migrate",
        seed: CHAOS_SEED,
        faults,
        kills: Object.fromEntries([...workers].map(([h, p]) => [h, p.kills])),
        outcomes,
      }),
    );
    expect(await checkDomains([simDir("m1"), simDir("m2")], expected)).toEqual([]);
  });
});

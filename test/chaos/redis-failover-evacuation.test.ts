/**
 * Redis failed over by Sentinel in the middle of an evacuation: two of four
 * hosts are being emptied, live, when the master is killed for good
 * (SIGKILL) and Sentinel promotes the replica. The controller and the
 * migrate workers, connected through redis+sentinel://, find the new master
 * by themselves; the evacuation completes and every domain runs exactly
 * once, with its memory intact.
 *
 * What an asynchronous failover can lose is the last writes the old master
 * acknowledged. A migration's outcome is not among them: decide returns only
 * once a replica holds it (rendezvous.ts, redis-replication.test.ts), so no
 * side acts on a "committed" the new master lacks. A lost listener or
 * "ready" makes that migration time out and abort with its source running,
 * and the evacuation tries the domain again; a lost job completion runs the
 * job again, which settles its side by the record. A domain may take a
 * second try, or be left where it was and named in the report's failures;
 * it never runs twice, or nowhere.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bullPrefix,
  CONTROLLER_QUEUE,
  createRedis,
  JOB_SPECS,
  jobData,
  listHosts,
  parseProgress,
  parseResult,
  type RedisClient,
} from "@xenfleet/jobs";
import { checkDomains, simHostWithIdleDomains, type ExpectedDomain } from "./invariants.js";
import { SentinelRedis, ServiceProc, chaosPrefix, tempDir, until } from "./procs.js";

const MiB = 2 ** 20;
const SOURCES = ["e1", "e2"];
const TARGETS = ["e3", "e4"];
const DOMAINS_PER_SOURCE = 4;
/** Slow enough (about a second a domain) that the failover lands mid-evacuation. */
const BANDWIDTH = 16 * MiB;

describe("Redis failed over by Sentinel in the middle of an evacuation", () => {
  const prefix = chaosPrefix();
  const dir = tempDir();
  const storeUrl = pathToFileURL(join(dir, "store")).href;
  const simDir = (host: string) => join(dir, "hosts", host);
  const procs: ServiceProc[] = [];
  const expected: ExpectedDomain[] = [];
  let redis: SentinelRedis;
  let conn: RedisClient;

  beforeAll(async () => {
    redis = await SentinelRedis.start(join(dir, "redis"));
    conn = createRedis(redis.url, "worker", "xenfleet-chaos");
    // Refused connections during the failover are expected; ioredis reconnects by itself.
    conn.on("error", () => undefined);
    for (const host of SOURCES)
      expected.push(...(await simHostWithIdleDomains(simDir(host), host, DOMAINS_PER_SOURCE, 16 * MiB)));
    for (const host of TARGETS) await simHostWithIdleDomains(simDir(host), host, 0, 0);
    const env = {
      XENFLEET_REDIS: redis.url,
      XENFLEET_PREFIX: prefix,
      XENFLEET_STORE: storeUrl,
      XENFLEET_LOG_LEVEL: "info",
    };
    procs.push(new ServiceProc("controller", "controller", env, dir));
    for (const host of [...SOURCES, ...TARGETS]) {
      procs.push(
        new ServiceProc(
          `migrate-${host}`,
          "migrate-worker",
          {
            ...env,
            XENFLEET_HOST: host,
            XENFLEET_SIM_DIR: simDir(host),
            XENFLEET_HOST_ADDRESS: "127.0.0.1",
            XENFLEET_MIGRATE_BIND: "127.0.0.1",
            XENFLEET_HEARTBEAT_MS: "500",
          },
          dir,
        ),
      );
    }
    for (const p of procs) p.start();
    // Every host up, and the sources' domains published by their heartbeats.
    await until(
      "every host up with its domains",
      async () => {
        const hosts = await listHosts(conn, prefix);
        const up = hosts.filter((h) => h.state === "up");
        const published = hosts
          .filter((h) => SOURCES.includes(h.id))
          .reduce((n, h) => n + (h.info?.domains?.length ?? 0), 0);
        return up.length === SOURCES.length + TARGETS.length && published === expected.length ? true : undefined;
      },
      60_000,
    );
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    conn?.disconnect();
    await redis?.stop();
    if (process.env.CHAOS_KEEP === "1") console.log(`chaos: logs and state kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it("the evacuation completes, and every domain runs exactly once with its memory", async () => {
    const controller = new Queue(CONTROLLER_QUEUE, { connection: conn, prefix: bullPrefix(prefix) });
    const id = "evac-failover";
    try {
      await controller.add(
        "evacuate",
        jobData("evacuate", {
          evacuationId: id,
          hosts: SOURCES,
          limits: { perSource: 1, perTarget: 1, total: 2 },
          bandwidth: BANDWIDTH,
        }),
        { ...JOB_SPECS.evacuate.options, jobId: id },
      );
      // Mid-evacuation: a domain moved, most not.
      await until(
        "the first domain moved",
        async () => {
          const p = parseProgress("evacuate", (await controller.getJob(id))?.progress);
          return (p?.done ?? 0) >= 1 ? true : undefined;
        },
        120_000,
      );
      const doneBefore = parseProgress("evacuate", (await controller.getJob(id))?.progress)?.done ?? 0;
      await redis.master.kill();

      const job = await until(
        "the evacuation finished",
        async () => {
          const j = await controller.getJob(id).catch(() => undefined);
          const state = await j?.getState().catch(() => undefined);
          return state === "completed" || state === "failed" ? j : undefined;
        },
        240_000,
      );
      expect(job.failedReason ?? undefined).toBeUndefined();
      expect(await redis.currentMasterPort()).toBe(redis.replica.port);
      const report = parseResult("evacuate", job.returnvalue);
      console.log(
        JSON.stringify({
          chaos: "redis failed over during an evacuation",
          movedBeforeFailover: doneBefore,
          moved: report.moved,
          failed: report.failed.map((f) => `${f.domain.name}: ${f.error}`),
          placements: report.placements?.map((p) => `${p.domain.name} ${p.from}->${p.to} (${p.attempts})`),
        }),
      );
      // Failed over mid-way, not after the work was done.
      expect(doneBefore).toBeLessThan(expected.length);
      expect(report.moved + report.failed.length).toBe(expected.length);
      if (report.failed.length === 0) expect([...(report.emptied ?? [])].sort()).toEqual(SOURCES);
    } finally {
      await controller.close();
    }

    // Every worker stopped, so nothing moves under the check: each domain once, running, intact.
    await Promise.all(procs.map((p) => p.stop()));
    expect(await checkDomains([...SOURCES, ...TARGETS].map(simDir), expected)).toEqual([]);
  });
});

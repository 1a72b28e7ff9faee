/**
 * A migration's outcome survives a failover: decide returns only once a
 * replica holds it. Here the replica is frozen (SIGSTOP) so that it cannot
 * acknowledge; the decision stays unreported until it thaws, and once
 * reported the replica, which Sentinel would promote, holds it.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MigrationRecord } from "@xenfleet/migration";
import { SentinelRedis, chaosPrefix, tempDir, until } from "./procs.js";

describe("a migration's outcome under asynchronous replication", () => {
  const dir = tempDir();
  const prefix = chaosPrefix();
  let redis: SentinelRedis;
  let master: Redis;
  /** A second connection to the master: the first is blocked in decide's WAIT. */
  let observer: Redis;
  let replica: Redis;

  beforeAll(async () => {
    redis = await SentinelRedis.start(join(dir, "redis"));
    master = new Redis(redis.master.url);
    observer = new Redis(redis.master.url);
    replica = new Redis(redis.replica.url);
  });

  afterAll(async () => {
    redis?.replica.child?.kill("SIGCONT");
    master?.disconnect();
    observer?.disconnect();
    replica?.disconnect();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is reported only once the replica holds it", async () => {
    const record = new MigrationRecord(master, prefix, "m-replicated");
    await record.set({ source: "a", target: "b" });
    const frozen = redis.replica.child!;
    frozen.kill("SIGSTOP");
    let reported: string | undefined;
    const decided = record.decide("committed").then((o) => (reported = o));
    try {
      // The master holds the outcome; decide waits (WAIT) for the frozen replica to acknowledge it.
      await until("decide to wait for the replica", async () =>
        String(await observer.client("LIST")).includes("cmd=wait") ? true : undefined,
      );
      expect(await observer.hget(record.key, "outcome")).toBe("committed");
      expect(reported).toBeUndefined();
    } finally {
      frozen.kill("SIGCONT");
    }
    expect(await decided).toBe("committed");
    expect(await replica.hget(record.key, "outcome")).toBe("committed");
  });

  it("a master without replicas decides without one", async () => {
    // The shared test Redis has no replica: WAIT would only time out there.
    const lone = new MigrationRecord(replica, prefix, "m-on-a-replica");
    // A replica refuses writes; a promoted one (here: told to stop replicating) has no replicas of its own.
    await replica.replicaof("NO", "ONE");
    await lone.set({ source: "a", target: "b" });
    expect(await lone.decide("aborted", "test")).toBe("aborted");
  });
});

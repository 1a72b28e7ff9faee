/**
 * The migration's record in Redis (`keys.migration(prefix, id)`, a hash):
 * where the receiver listens and with which one-time token, whether the
 * target holds a complete paused copy, and the outcome. Redis carries the
 * address and the token, never page data.
 *
 * Fields: source, target, domain, address, port, tls, token, expiresAt
 * (listener); ready (target holds a paused copy); image (cold path); outcome
 * ("committed" | "aborted", written once, see commit.ts) and reason.
 * The record expires a day after its last write.
 */
import { keys, nodeForKey, type RedisClient } from "@xenfleet/jobs";
import { MigrationFailedError } from "./errors.js";
import { realClock, type Clock } from "./throttle.js";

export const RECORD_TTL_MS = 24 * 3600 * 1000;
/** How long one wait for a replica's acknowledgement of an outcome lasts before decide tries again. */
const REPLICATION_WAIT_MS = 2000;

export interface Listener {
  address: string;
  port: number;
  tls: boolean;
  token: string;
  expiresAt: number;
}

export type Outcome = "committed" | "aborted";

export class MigrationRecord {
  readonly key: string;

  constructor(
    readonly redis: RedisClient,
    readonly prefix: string,
    readonly migrationId: string,
    private readonly clock: Clock = realClock,
  ) {
    this.key = keys.migration(prefix, migrationId);
  }

  async set(fields: Record<string, string | number>): Promise<void> {
    await this.redis.multi().hset(this.key, fields).pexpire(this.key, RECORD_TTL_MS).exec();
  }

  async get(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.key);
  }

  async publishListener(l: Listener): Promise<void> {
    await this.set({ address: l.address, port: l.port, tls: l.tls ? 1 : 0, token: l.token, expiresAt: l.expiresAt });
  }

  /** Polls until the receiver has published its listener; fails if the migration was decided meanwhile. */
  async waitForListener(timeoutMs: number, signal?: AbortSignal): Promise<Listener> {
    return this.poll(timeoutMs, signal, "the receiver to listen", (r) => {
      if (r.address === undefined || r.port === undefined || r.token === undefined) return undefined;
      return {
        address: r.address,
        port: Number(r.port),
        tls: r.tls === "1",
        token: r.token,
        expiresAt: Number(r.expiresAt),
      };
    });
  }

  /** Polls until `field` is set; fails if the outcome is decided first. */
  async waitForField(field: string, timeoutMs: number, signal?: AbortSignal): Promise<string> {
    return this.poll(timeoutMs, signal, `"${field}"`, (r) => r[field]);
  }

  async outcome(): Promise<Outcome | undefined> {
    const o = await this.redis.hget(this.key, "outcome");
    return o === "committed" || o === "aborted" ? o : undefined;
  }

  /**
   * Writes `wanted` as the outcome unless one is already written, and returns
   * the outcome that holds: the first writer wins, atomically. It returns
   * only once a replica holds the outcome too (see replicated). Redis errors
   * are retried (the decision must not be guessed) until `signal` aborts.
   */
  async decide(wanted: Outcome, reason = "", signal?: AbortSignal): Promise<Outcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        const replies = await this.redis
          .multi()
          .hsetnx(this.key, "outcome", wanted)
          .hget(this.key, "outcome")
          .pexpire(this.key, RECORD_TTL_MS)
          .exec();
        const won = replies?.[0]?.[1] === 1;
        const held = replies?.[1]?.[1];
        if (won && reason) await this.redis.hset(this.key, "reason", reason.slice(0, 1024));
        if (held !== "committed" && held !== "aborted") throw new Error(`outcome field holds ${String(held)}`);
        await this.replicated();
        return held;
      } catch (err) {
        if (signal?.aborted) throw err;
        await this.clock.sleep(Math.min(2000, 50 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /**
   * Waits until a replica of the master holds every write made so far on
   * this connection (the outcome among them). Replication is asynchronous: a
   * master that dies right after the decision could be replaced by a replica
   * that never saw it, and a "committed" lost that way would let the target,
   * finding no outcome, write "aborted" and destroy its copy after the
   * sender destroyed the source. A master without connected replicas has no
   * such failover to fear. Throws while no replica has acknowledged, so that
   * decide retries (the outcome, already written, is not written again).
   */
  private async replicated(): Promise<void> {
    // On a cluster, the master that holds the record, not whichever node a keyless command would reach.
    const master = await nodeForKey(this.redis, this.key);
    const info = await master.info("replication");
    const replicas = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0);
    if (replicas === 0) return;
    const acknowledged = await master.wait(1, REPLICATION_WAIT_MS);
    if (acknowledged < 1) throw new Error(`no replica acknowledged the outcome within ${REPLICATION_WAIT_MS} ms`);
  }

  async delete(): Promise<void> {
    await this.redis.del(this.key);
  }

  private async poll<T>(
    timeoutMs: number,
    signal: AbortSignal | undefined,
    what: string,
    pick: (r: Record<string, string>) => T | undefined,
  ): Promise<T> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const r = await this.get();
      if (r.outcome === "aborted")
        throw new MigrationFailedError(`migration ${this.migrationId} was aborted: ${r.reason ?? "no reason given"}`);
      const value = pick(r);
      if (value !== undefined) return value;
      if (this.clock.now() >= deadline)
        throw new MigrationFailedError(
          `timed out after ${timeoutMs} ms waiting for ${what} (migration ${this.migrationId})`,
        );
      await this.clock.sleep(50, signal);
    }
  }
}

/**
 * The job handlers of the migrate worker: `migrate-send` on the source's
 * queue, `migrate-recv` on the target's. A job that runs again after its
 * worker died first settles what the earlier attempt left (commit.ts
 * `recoverSide`, through sweep.ts `settleSide`) instead of starting over: a
 * migration id is used once.
 *
 * Each side writes its host into the record when it starts (`source`,
 * `target`) and `<side>Settled` once nothing is left for it to do, so that a
 * worker starting after a crash finds what its dead predecessor left
 * half-done (sweep.ts).
 */
import type { Hypervisor } from "@xenfleet/hypervisor";
import { type JobHandler, jobProgress, type RedisClient } from "@xenfleet/jobs";
import type { ObjectStore } from "@xenfleet/store";
import { publishHostDomains } from "../host-agent.js";
import { throttled } from "./throttle.js";
import {
  MigrationFailedError,
  MigrationRecord,
  receiveCold,
  receiveLive,
  sendCold,
  sendLive,
  settleSide,
  type TokenBucket,
} from "@xenfleet/migration";

export interface MigrateWorkerDeps {
  /** This host's id. */
  host: string;
  hypervisor: Hypervisor;
  /** A producer-role client for the migration records. */
  redis: RedisClient;
  prefix: string;
  bind: { host: string; port: number };
  advertise: string;
  /** Receiver TLS (both key and cert) and the CA senders check it with. */
  tls?: { key: string; cert: string };
  tlsCa?: string;
  /** Shared by every migration this host sends: the host's link. */
  hostLimiter?: TokenBucket;
  openStore?: (url: string) => Promise<ObjectStore>;
  /** How long a receiver waits for its sender (its token's lifetime). */
  tokenTtlMs?: number;
  /** How long a sender waits for its receiver to listen. */
  listenerTimeoutMs?: number;
  /** Longest silence mid-stream, on either side, before the migration is aborted. */
  stallTimeoutMs?: number;
}

export function migrateHandlers(deps: MigrateWorkerDeps): {
  "migrate-send": JobHandler<"migrate-send">;
  "migrate-recv": JobHandler<"migrate-recv">;
} {
  // Each side publishes its host's domains once its part is done (the source
  // destroyed, the target started), before its job completes.
  const publish = (logger: Parameters<typeof publishHostDomains>[0]["logger"]) =>
    publishHostDomains({ ...deps, logger });
  return {
    "migrate-send": async (p, ctx) => {
      const record = new MigrationRecord(deps.redis, deps.prefix, p.migrationId);
      const earlier = await record.get();
      if (earlier.sourceWasRunning !== undefined) {
        const r = await settleSide(deps, record, "source", p.domain.uuid, ctx.signal);
        ctx.logger.warn({ recovered: r }, "migration settled after a worker restart");
        if (r.action === "kept")
          throw new MigrationFailedError(
            "committed, but the target has not confirmed it holds the domain; the source stays paused",
          );
        if (r.outcome === "aborted")
          throw new MigrationFailedError(`migration aborted earlier: ${earlier.reason ?? "worker restarted"}`);
        await publish(ctx.logger);
        // What the earlier attempt measured died with it: no downtime rather than a made-up one.
        return { bytesSent: 0, iterations: 0, seconds: 0, mode: p.mode };
      }
      await record.set({
        source: deps.host,
        domain: p.domain.uuid,
        mode: p.mode,
        ...(p.store ? { store: p.store } : {}),
      });
      const sent = await settled(record, "source", async () => {
        if (p.mode === "cold") {
          const store = await needStore(deps, p.store);
          const r = await sendCold({
            hypervisor: deps.hypervisor,
            record,
            store,
            domain: p.domain.uuid,
            signal: ctx.signal,
          });
          return {
            bytesSent: r.bytesNew,
            bytesRaw: r.bytesTotal,
            iterations: 1,
            downtimeMs: Math.round(r.downtimeMs),
            seconds: r.seconds,
            mode: "cold" as const,
          };
        }
        const r = await sendLive({
          hypervisor: deps.hypervisor,
          record,
          domain: p.domain.uuid,
          compression: p.compression ?? (p.compress ? "lz4" : "none"),
          ...(p.bandwidth ? { bandwidth: p.bandwidth } : {}),
          ...(deps.hostLimiter ? { limiters: [deps.hostLimiter] } : {}),
          live: {
            ...(p.maxDowntimeMs !== undefined ? { maxDowntimeMs: p.maxDowntimeMs } : {}),
            ...(p.timeoutMs !== undefined ? { timeoutMs: p.timeoutMs } : {}),
            ...(p.timeoutAction !== undefined ? { timeoutAction: p.timeoutAction } : {}),
          },
          ...(deps.tlsCa ? { tls: { ca: deps.tlsCa } } : {}),
          ...(deps.listenerTimeoutMs ? { listenerTimeoutMs: deps.listenerTimeoutMs } : {}),
          ...(deps.stallTimeoutMs ? { stallTimeoutMs: deps.stallTimeoutMs } : {}),
          signal: ctx.signal,
          onProgress: throttled(({ rawBytes, memoryBytes }) => {
            void ctx.job
              .updateProgress(
                jobProgress("migrate-send", {
                  phase: "migrating",
                  percent: Math.min(99, Math.floor((100 * rawBytes) / Math.max(1, memoryBytes))),
                  bytes: rawBytes,
                  memoryBytes,
                }),
              )
              .catch(() => undefined);
          }),
        });
        return {
          bytesSent: r.bytesSent,
          bytesRaw: r.rawBytes,
          compressionRatio: Math.round(r.compressionRatio * 1000) / 1000,
          iterations: r.iterations,
          ...(r.downtimeMs !== undefined ? { downtimeMs: Math.round(r.downtimeMs) } : {}),
          seconds: r.seconds,
          ...(r.stopReason ? { stopReason: r.stopReason } : {}),
          mode: "live" as const,
        };
      });
      await publish(ctx.logger);
      return sent;
    },
    "migrate-recv": async (p, ctx) => {
      const record = new MigrationRecord(deps.redis, deps.prefix, p.migrationId);
      const earlier = await record.get();
      if (earlier.targetDomid !== undefined || earlier.outcome !== undefined) {
        const r = await settleSide(deps, record, "target", p.domain.uuid, ctx.signal);
        ctx.logger.warn({ recovered: r }, "migration settled after a worker restart");
        if (r.outcome === "aborted")
          throw new MigrationFailedError(
            `migration aborted: ${earlier.reason ?? (await record.get()).reason ?? "worker restarted"}`,
          );
        await publish(ctx.logger);
        return { domain: p.domain, bytesReceived: 0, seconds: 0 };
      }
      await record.set({ target: deps.host, domain: p.domain.uuid });
      const received = await settled(record, "target", async () => {
        if (p.mode === "cold") {
          const store = await needStore(deps, p.store);
          const r = await receiveCold({
            hypervisor: deps.hypervisor,
            record,
            store,
            host: deps.host,
            ...(p.memoryBytes !== undefined ? { memoryBytes: p.memoryBytes } : {}),
            signal: ctx.signal,
          });
          return { domain: p.domain, bytesReceived: r.bytesRestored, seconds: r.seconds };
        }
        const r = await receiveLive({
          hypervisor: deps.hypervisor,
          record,
          domainUuid: p.domain.uuid,
          ...(p.memoryBytes !== undefined ? { memoryBytes: p.memoryBytes } : {}),
          bind: deps.bind,
          advertise: deps.advertise,
          ...(deps.tls ? { tls: deps.tls } : {}),
          ...(deps.tokenTtlMs ? { tokenTtlMs: deps.tokenTtlMs } : {}),
          ...(deps.stallTimeoutMs ? { idleTimeoutMs: deps.stallTimeoutMs } : {}),
          signal: ctx.signal,
        });
        return { domain: { uuid: r.domain.uuid, name: r.domain.name }, bytesReceived: r.rawBytes, seconds: r.seconds };
      });
      await publish(ctx.logger);
      return received;
    },
  };
}

/**
 * Runs one side and marks it settled when nothing is left for it: it
 * finished, or the migration was aborted (every abort path puts its side
 * back before throwing). A side that failed otherwise (committed, but the
 * target never confirmed) stays unsettled for the next sweep.
 */
async function settled<T>(record: MigrationRecord, side: "source" | "target", run: () => Promise<T>): Promise<T> {
  try {
    const result = await run();
    await record.set({ [`${side}Settled`]: 1 });
    return result;
  } catch (err) {
    if ((await record.outcome().catch(() => undefined)) === "aborted")
      await record.set({ [`${side}Settled`]: 1 }).catch(() => undefined);
    throw err;
  }
}

async function needStore(deps: MigrateWorkerDeps, url: string | undefined): Promise<ObjectStore> {
  if (!url || !deps.openStore)
    throw new MigrationFailedError("cold migration needs a store URL and a worker configured to open it");
  return deps.openStore(url);
}

/**
 * Evacuation: empty the given hosts. The controller marks them draining (no
 * new work lands there), plans a target for every domain on them
 * (planner.ts), then runs the moves as BullMQ jobs: each move is a
 * migrate-send on the source's queue and a migrate-recv on the target's,
 * added together as children of the evacuate job, so the flow shows every
 * move under its evacuation. Moves start as limits allow (per source, per
 * target, cluster-wide); a failed move is planned again on another target,
 * up to `maxAttempts`; with a cold store (`coldVia`) a move no live target is
 * left for goes through the store instead (save on the source, restore on a
 * target), up to `maxAttempts` more. A move ends when both its jobs have, or
 * when its migration record says aborted (one side gave up: a target whose
 * worker is stopped never ends its job), so the evacuation always ends.
 * Progress per domain goes to the evacuate job's
 * progress; the result is the final placement. A host counts as emptied only
 * when every domain it had was moved.
 */
import { sleep } from "@xenfleet/core";
import { createHash } from "node:crypto";
import { FlowProducer, type Job, Queue } from "bullmq";
import {
  bullPrefix,
  hostQueue,
  JOB_SPECS,
  jobData,
  jobWithState,
  listHosts,
  markDraining,
  type HostStatus,
  type JobPayload,
  type JobProgress,
  type JobResult,
  jobProgress,
  parseProgress,
  type RedisClient,
} from "@xenfleet/jobs";
import { MigrationRecord, RECEIVER_REASON } from "@xenfleet/migration";
import { type PlanDomain, type PlanHost, planPlacement } from "./placement.js";

/** One domain of an evacuation, as its progress reports it. */
export type DomainProgress = JobProgress<"evacuate">["domains"][number];
export type DomainProgressState = DomainProgress["state"];
export type EvacuationProgress = Omit<JobProgress<"evacuate">, "v">;

export interface EvacuationContext {
  /** The evacuate job, when run by the controller: moves become its children and progress goes there. */
  job?: Job;
  signal?: AbortSignal;
  onProgress?: (p: EvacuationProgress) => void;
  /** How often job states are polled (default 250 ms). */
  pollMs?: number;
  /** A move whose send job no source worker took by then is aborted (default 10 min): a dead source queue must not hold the evacuation. */
  startTimeoutMs?: number;
}

type MoveMode = "live" | "cold";
type Try = { target: string; mode: MoveMode; reason: string };

interface Move {
  domain: PlanDomain;
  progress: DomainProgress;
  mode: MoveMode;
  /** Targets this domain failed on, per mode: a target without a live path may still restore it cold. */
  excluded: Record<MoveMode, Set<string>>;
  /** The attempts that failed, with their reasons, for the report. */
  tries: Try[];
  target?: string;
  sendJob?: string;
  recvJob?: string;
  migrationId?: string;
  startedAt?: number;
  /** When this attempt's record was first seen aborted. */
  abortedAt?: number;
}

/** How long after one side aborted the other job gets to report its own reason (usually the target's, the better one). */
const REASON_GRACE_MS = 3000;
const DEFAULT_START_TIMEOUT_MS = 10 * 60_000;
/** Result and progress reasons are at most this long. */
const REASON_MAX = 1024;

type EvacuateResult = Omit<JobResult<"evacuate">, "v">;

/** The controller's handler for `evacuate` jobs. */
export async function runEvacuation(
  redis: RedisClient,
  prefix: string,
  payload: JobPayload<"evacuate">,
  ctx: EvacuationContext = {},
): Promise<EvacuateResult> {
  const started = performance.now();
  for (const h of payload.hosts) await markDraining(redis, prefix, h);
  const hosts = await listHosts(redis, prefix);
  const evacuating = new Set(payload.hosts);
  const { domains, groups, stranded } = domainsToMove(hosts, payload);
  const planHosts: PlanHost[] = hosts.map((h) => ({
    id: h.id,
    state: h.state,
    memoryFree: h.info?.memoryFree ?? 0,
    tags: h.info?.tags ?? [],
    domains: h.info?.domains.map((d) => d.uuid) ?? [],
  }));
  const plan = planPlacement({ hosts: planHosts, evacuating: payload.hosts, domains, groups });
  // Memory still free on each host after the placements in force; retries plan against it.
  const free = new Map(planHosts.map((h) => [h.id, h.memoryFree]));
  const moves: Move[] = [];
  const initialMode: MoveMode = payload.cold ? "cold" : "live";
  const failed: EvacuateResult["failed"] = [...stranded];
  const placements: NonNullable<EvacuateResult["placements"]> = [];
  for (const u of plan.unplaced) {
    const progress: DomainProgress = {
      uuid: u.domain.uuid,
      name: u.domain.name,
      source: u.domain.source,
      state: "failed",
      attempts: 0,
      reason: u.reason,
    };
    moves.push({ domain: u.domain, progress, mode: initialMode, excluded: noExclusions(), tries: [] });
    failed.push({ host: u.domain.source, domain: { uuid: u.domain.uuid, name: u.domain.name }, error: u.reason });
  }
  for (const p of plan.placements) {
    free.set(p.target, (free.get(p.target) ?? 0) - p.domain.memory);
    moves.push({
      domain: p.domain,
      target: p.target,
      mode: initialMode,
      excluded: noExclusions(),
      tries: [],
      progress: {
        uuid: p.domain.uuid,
        name: p.domain.name,
        source: p.domain.source,
        target: p.target,
        state: "queued",
        attempts: 0,
      },
    });
  }

  const flows = new FlowProducer({ connection: redis, prefix: bullPrefix(prefix) });
  const queues = new Map<string, Queue>();
  const queue = (name: string) => {
    let q = queues.get(name);
    if (!q) queues.set(name, (q = new Queue(name, { connection: redis, prefix: bullPrefix(prefix) })));
    return q;
  };
  const limits = payload.limits;
  const maxAttempts = payload.maxAttempts ?? 3;
  const startTimeoutMs = ctx.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const report = () => {
    const p: EvacuationProgress = {
      evacuationId: payload.evacuationId,
      total: moves.length,
      done: moves.filter((m) => m.progress.state === "done").length,
      failed: moves.filter((m) => m.progress.state === "failed").length,
      domains: moves.map((m) => m.progress),
    };
    ctx.onProgress?.(p);
    return ctx.job?.updateProgress(jobProgress("evacuate", p)).catch(() => undefined);
  };

  try {
    for (;;) {
      const active = moves.filter((m) => m.progress.state === "migrating");
      const waiting = moves.filter((m) => m.progress.state === "queued");
      if (active.length === 0 && waiting.length === 0) break;
      for (const m of waiting) {
        const running = moves.filter((x) => x.progress.state === "migrating");
        if (running.length >= limits.total) break;
        if (running.filter((x) => x.domain.source === m.domain.source).length >= limits.perSource) continue;
        if (running.filter((x) => x.target === m.target).length >= limits.perTarget) continue;
        await start(m);
      }
      await report();
      await sleep(ctx.pollMs ?? 250, ctx.signal);
      // Cancelled: stop starting moves; those in flight settle by the commit protocol on their own.
      if (ctx.signal?.aborted) throw new Error("evacuation cancelled");
      for (const m of moves.filter((x) => x.progress.state === "migrating")) await check(m);
    }
  } finally {
    await report();
    await flows.close();
    for (const q of queues.values()) await q.close();
  }

  for (const m of moves) {
    if (m.progress.state === "done" && m.target) {
      placements.push({
        domain: { uuid: m.domain.uuid, name: m.domain.name },
        from: m.domain.source,
        to: m.target,
        mode: m.mode,
        attempts: m.progress.attempts,
        ...(m.tries.length ? { tries: m.tries } : {}),
      });
    } else if (m.progress.attempts > 0) {
      failed.push({
        host: m.domain.source,
        domain: { uuid: m.domain.uuid, name: m.domain.name },
        error: m.progress.reason ?? "failed",
        ...(m.tries.length ? { tries: m.tries } : {}),
      });
    }
  }
  const remaining = new Map(payload.hosts.map((h) => [h, 0]));
  for (const f of failed) remaining.set(f.host, (remaining.get(f.host) ?? 0) + 1);
  return {
    evacuationId: payload.evacuationId,
    moved: placements.filter((p) => p.mode === "live").length,
    cold: placements.filter((p) => p.mode === "cold").length,
    failed,
    placements,
    emptied: payload.hosts.filter((h) => remaining.get(h) === 0),
    notEmpty: payload.hosts
      .filter((h) => (remaining.get(h) ?? 0) > 0)
      .map((h) => ({ host: h, remaining: remaining.get(h) ?? 0 })),
    seconds: (performance.now() - started) / 1000,
  };

  async function start(m: Move): Promise<void> {
    const target = m.target!;
    m.progress.attempts++;
    m.progress.state = "migrating";
    m.progress.target = target;
    m.progress.percent = 0;
    m.progress.bytes = 0;
    m.progress.mode = m.mode;
    m.startedAt = Date.now();
    m.abortedAt = undefined;
    const id = createHash("sha256")
      .update(`${payload.evacuationId}\0${m.domain.uuid}\0${m.progress.attempts}`)
      .digest("hex")
      .slice(0, 24);
    m.migrationId = `ev-${id}`;
    m.sendJob = `${m.migrationId}-send`;
    m.recvJob = `${m.migrationId}-recv`;
    const domain = { uuid: m.domain.uuid, name: m.domain.name };
    const mode = m.mode;
    const tuning = {
      ...(payload.compression ? { compression: payload.compression } : {}),
      ...(payload.bandwidth ? { bandwidth: payload.bandwidth } : {}),
      ...(payload.maxDowntimeMs ? { maxDowntimeMs: payload.maxDowntimeMs } : {}),
      ...(payload.timeoutMs ? { timeoutMs: payload.timeoutMs } : {}),
      ...(payload.timeoutAction ? { timeoutAction: payload.timeoutAction } : {}),
    };
    const store = mode === "cold" && payload.coldVia ? { store: payload.coldVia } : {};
    const parent = ctx.job?.id
      ? { parent: { id: ctx.job.id, queue: ctx.job.queueQualifiedName }, ignoreDependencyOnFailure: true }
      : {};
    const common = { ...JOB_SPECS["migrate-send"].options, ...parent };
    await flows.addBulk([
      {
        name: "migrate-recv",
        queueName: hostQueue("migrate-recv", target),
        data: jobData("migrate-recv", {
          migrationId: m.migrationId,
          host: target,
          source: m.domain.source,
          domain,
          memoryBytes: m.domain.memory,
          mode,
          evacuationId: payload.evacuationId,
          ...store,
        }),
        opts: { ...common, jobId: m.recvJob },
      },
      {
        name: "migrate-send",
        queueName: hostQueue("migrate-send", m.domain.source),
        data: jobData("migrate-send", {
          migrationId: m.migrationId,
          host: m.domain.source,
          target,
          domain,
          mode,
          compress: payload.compression !== undefined && payload.compression !== "none",
          evacuationId: payload.evacuationId,
          ...tuning,
          ...store,
        }),
        opts: { ...common, jobId: m.sendJob },
      },
    ]);
  }

  async function check(m: Move): Promise<void> {
    const [{ state: ss, job: send }, { state: rs, job: recv }] = await Promise.all([
      jobWithState(queue(hostQueue("migrate-send", m.domain.source)), m.sendJob!),
      jobWithState(queue(hostQueue("migrate-recv", m.target!)), m.recvJob!),
    ]);
    const progress = parseProgress("migrate-send", send?.progress);
    if (progress !== undefined) {
      m.progress.percent = progress.percent;
      if (progress.bytes !== undefined) m.progress.bytes = progress.bytes;
      if (progress.memoryBytes !== undefined) m.progress.memoryBytes = progress.memoryBytes;
    }
    const finished = (s: string) => s === "completed" || s === "failed" || s === "unknown";
    // A send completes only once the target said the domain runs there: the move is done, whatever
    // the receive job's state (it may still be settling, or sit on a worker that stopped since).
    if (ss === "completed") {
      if (!finished(rs)) await recv?.removeChildDependency().catch(() => false);
      m.progress.state = "done";
      m.progress.percent = 100;
      return;
    }
    if (!finished(ss) || !finished(rs)) {
      // A side that gave up recorded "aborted"; the other side stops on its own when it next runs (it
      // reads the record), but a stopped or dead worker may never run again: the move ends here.
      const record = new MigrationRecord(redis, prefix, m.migrationId!);
      const fields = await record.get();
      if (fields.outcome === undefined) {
        // A side that failed before deciding anything (e.g. no room on the target) will never commit:
        // deciding now frees the other side at once, rather than at its own timeout.
        const failedFirst = ss === "failed" ? send : rs === "failed" ? recv : undefined;
        if (failedFirst) await record.decide("aborted", failedFirst.failedReason || "a side failed", ctx.signal);
        else if (ss === "waiting" && Date.now() - (m.startedAt ?? 0) > startTimeoutMs)
          await record.decide(
            "aborted",
            `no migrate worker on ${m.domain.source} took the send within ${Math.round(startTimeoutMs / 1000)} s`,
            ctx.signal,
          );
        return;
      }
      if (fields.outcome !== "aborted") return;
      m.abortedAt ??= Date.now();
      if (rs !== "failed" && ss !== "failed" && Date.now() - m.abortedAt < REASON_GRACE_MS) return;
      fail(m, recv?.failedReason || send?.failedReason || stripReceiver(fields.reason) || "aborted");
      // A job still pending would hold the evacuate job open (a parent completes only after its
      // children); it ends on its own once its worker runs again, as an aborted migration.
      for (const [job, state] of [
        [send, ss],
        [recv, rs],
      ] as const)
        if (job && !finished(state)) await job.removeChildDependency().catch(() => false);
      const target = m.target!;
      await retry(m);
      if (rs === "waiting") await avoid(target);
      return;
    }
    // The move failed; the commit protocol left the domain on its source.
    // The target's own reason first: the sender often knows only that the connection closed.
    fail(m, (rs === "failed" ? recv?.failedReason : send?.failedReason) || `send ${ss}, receive ${rs}`);
    await retry(m);
  }

  function fail(m: Move, reason: string): void {
    const target = m.target!;
    m.progress.reason = clip(`${target}: ${reason}`);
    m.tries.push({ target, mode: m.mode, reason: clip(reason) });
    free.set(target, (free.get(target) ?? 0) + m.domain.memory);
    m.excluded[m.mode].add(target);
  }

  /** Plans the move again on another target; live first, then (with a cold store) cold; bounded by maxAttempts per mode. */
  async function retry(m: Move): Promise<void> {
    const fresh = await listHosts(redis, prefix).catch(() => hosts);
    const replan = (mode: MoveMode) =>
      m.tries.filter((t) => t.mode === mode).length >= maxAttempts
        ? { placements: [], unplaced: [{ domain: m.domain, reason: `${maxAttempts} ${mode} attempt(s) failed` }] }
        : planOne(m, fresh, m.excluded[mode]);
    let again = replan(m.mode);
    if (again.placements.length === 0 && m.mode === "live" && payload.coldVia) {
      const live = again.unplaced[0]?.reason;
      again = replan("cold");
      if (again.placements.length > 0) m.mode = "cold";
      else if (live) again.unplaced[0]!.reason = `live: ${live}; cold: ${again.unplaced[0]?.reason ?? ""}`;
    }
    const p = again.placements[0];
    if (!p) {
      m.progress.state = "failed";
      m.progress.reason = clip(`${m.progress.reason}; then ${again.unplaced[0]?.reason ?? "no other target"}`);
      return;
    }
    moveTo(m, p.target);
    m.progress.mode = m.mode;
    m.progress.state = "queued";
  }

  /**
   * A target whose worker never took a receive job is likely stopped or gone:
   * moves still queued for it go elsewhere where they can (no attempt is
   * spent), rather than each waiting out the listener timeout there.
   */
  async function avoid(target: string): Promise<void> {
    const queued = moves.filter((q) => q.progress.state === "queued" && q.target === target);
    if (queued.length === 0) return;
    const fresh = await listHosts(redis, prefix).catch(() => hosts);
    for (const q of queued) {
      const p = planOne(q, fresh, new Set([...q.excluded[q.mode], target])).placements[0];
      if (p) moveTo(q, p.target);
    }
  }

  function planOne(m: Move, fresh: HostStatus[], excluded: ReadonlySet<string>) {
    return planPlacement({
      hosts: fresh.map((h) => ({
        id: h.id,
        state: h.state,
        memoryFree: free.get(h.id) ?? h.info?.memoryFree ?? 0,
        tags: h.info?.tags ?? [],
        domains: placedOn(h.id, h),
      })),
      evacuating: [...evacuating],
      domains: [m.domain],
      groups,
      exclude: new Map([[m.domain.uuid, excluded]]),
    });
  }

  /** Plans `m` onto `target`, moving its memory there from the target it had. */
  function moveTo(m: Move, target: string): void {
    if (m.target !== undefined && m.progress.state === "queued")
      free.set(m.target, (free.get(m.target) ?? 0) + m.domain.memory);
    free.set(target, (free.get(target) ?? 0) - m.domain.memory);
    m.target = target;
    m.progress.target = target;
  }

  /** Domains on a host now, counting moves placed there, for anti-affinity on retries. */
  function placedOn(id: string, h: HostStatus): string[] {
    return [
      ...(h.info?.domains.map((d) => d.uuid) ?? []),
      ...moves
        .filter((x) => x.target === id && x !== undefined && x.progress.state !== "failed")
        .map((x) => x.domain.uuid),
    ];
  }
}

function noExclusions(): Record<MoveMode, Set<string>> {
  return { live: new Set(), cold: new Set() };
}

function clip(text: string): string {
  return text.length > REASON_MAX ? `${text.slice(0, REASON_MAX - 1)}…` : text;
}

/** The receiver's reasons in the record start with "receiver: "; the report names the target already. */
function stripReceiver(reason: string | undefined): string | undefined {
  return reason?.startsWith(RECEIVER_REASON) ? reason.slice(RECEIVER_REASON.length) : reason;
}

function domainsToMove(
  hosts: HostStatus[],
  payload: JobPayload<"evacuate">,
): { domains: PlanDomain[]; groups: Map<string, string>; stranded: JobResult<"evacuate">["failed"] } {
  const byName = (ref: string, d: { uuid: string; name: string }) => ref === d.uuid || ref === d.name;
  const groups = new Map<string, string>();
  const all = hosts.flatMap((h) => h.info?.domains ?? []);
  (payload.antiAffinity ?? []).forEach((members, i) => {
    for (const d of all) if (members.some((m) => byName(m, d))) groups.set(d.uuid, `group-${i}`);
  });
  const domains: PlanDomain[] = [];
  const stranded: JobResult<"evacuate">["failed"] = [];
  for (const id of payload.hosts) {
    const h = hosts.find((x) => x.id === id);
    if (!h?.info) {
      stranded.push({
        host: id,
        domain: { uuid: "00000000-0000-0000-0000-000000000000", name: "(unknown)" },
        error: `host ${id} has no registration: ${h?.problem ?? "not registered"}`,
      });
      continue;
    }
    if (h.state === "down") {
      for (const d of h.info.domains)
        stranded.push({
          host: id,
          domain: { uuid: d.uuid, name: d.name },
          error: `host ${id} is down: its domains cannot be moved`,
        });
      continue;
    }
    for (const d of h.info.domains) {
      const tags = (payload.requireTags ?? []).filter((r) => byName(r.domain, d)).flatMap((r) => r.tags);
      const group = groups.get(d.uuid);
      domains.push({
        uuid: d.uuid,
        name: d.name,
        memory: d.memory,
        source: id,
        ...(tags.length ? { requireTags: tags } : {}),
        ...(group ? { antiAffinity: group } : {}),
      });
    }
  }
  return { domains, groups, stranded };
}

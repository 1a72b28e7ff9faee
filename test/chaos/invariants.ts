/**
 * What must hold after any fault, as functions the chaos tests call (and
 * any other test may): each returns a list of violations, empty when the
 * invariant holds, so a test can assert on it and print every problem at once.
 *
 * - jobs: every job completed, or failed with a stated reason; none stuck;
 * - domains: every domain exists exactly once, running, with its memory digest;
 * - images: every image a ref points to exports byte-identically; every
 *   manifest present is a whole image (no partial image visible);
 * - GC: after a sweep, every image a ref points to still exports;
 * - corruption: a corrupt object is reported by name, never restored silently.
 */
import { Queue } from "bullmq";
import { SimHost } from "@xenfleet/hypervisor";
import { gc, isStale, listImageRefs, listLocks, parseImageId, verifyImage, type GcResult } from "@xenfleet/image";
import { bullPrefix, type RedisClient } from "@xenfleet/jobs";
import type { ObjectStore } from "@xenfleet/store";

export interface JobOutcome {
  queue: string;
  id: string;
  name: string;
  state: string;
  failedReason?: string;
  returnvalue?: unknown;
}

/** The state of each job; violations for any not settled, or failed without a reason. */
export async function checkJobsSettled(
  connection: RedisClient,
  prefix: string,
  jobs: readonly { queue: string; id: string }[],
): Promise<{ violations: string[]; outcomes: JobOutcome[] }> {
  const violations: string[] = [];
  const outcomes: JobOutcome[] = [];
  const queues = new Map<string, Queue>();
  try {
    for (const { queue, id } of jobs) {
      let q = queues.get(queue);
      if (q === undefined) queues.set(queue, (q = new Queue(queue, { connection, prefix: bullPrefix(prefix) })));
      const job = await q.getJob(id);
      if (job === undefined) {
        violations.push(`job ${queue}/${id} vanished`);
        continue;
      }
      const state = await job.getState();
      const outcome: JobOutcome = { queue, id, name: job.name, state, returnvalue: job.returnvalue };
      if (job.failedReason) outcome.failedReason = job.failedReason;
      outcomes.push(outcome);
      // The next run of a schedule (a job scheduler's delayed job) waits for its time; it is not stuck.
      if (state === "delayed" && job.repeatJobKey !== undefined) continue;
      if (state === "failed" && !job.failedReason) violations.push(`job ${queue}/${id} failed without a reason`);
      else if (state !== "completed" && state !== "failed")
        // A job waiting out a retry's backoff says why its last attempt failed.
        violations.push(
          `job ${queue}/${id} (${job.name}) is stuck in ${state}` +
            (job.attemptsMade > 0
              ? ` after ${job.attemptsMade} attempts, the last failing with: ${job.failedReason}`
              : ""),
        );
    }
  } finally {
    await Promise.all([...queues.values()].map((q) => q.close()));
  }
  return { violations, outcomes };
}

/**
 * Polls checkJobsSettled until it holds or `timeoutMs` passes, and returns
 * the last result either way: on timeout, its violations say what is stuck.
 */
export async function waitForJobsSettled(
  connection: RedisClient,
  prefix: string,
  jobs: () => Promise<readonly { queue: string; id: string }[]> | readonly { queue: string; id: string }[],
  timeoutMs: number,
): Promise<{ violations: string[]; outcomes: JobOutcome[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await checkJobsSettled(connection, prefix, await jobs());
    if (result.violations.length === 0 || Date.now() > deadline) return result;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface ExpectedDomain {
  uuid: string;
  name: string;
  /** Memory digest from the sim host's oracle, taken before the faults. */
  digest: string;
}

/**
 * Every expected domain exists exactly once across the hosts (by uuid and by
 * name), is running, and has its digest; no other domain carries a name
 * that appears twice.
 */
export async function checkDomains(
  hostDirs: readonly string[],
  expected: readonly ExpectedDomain[],
): Promise<string[]> {
  const violations: string[] = [];
  const found: { host: string; uuid: string; name: string; state: string }[] = [];
  const hosts = new Map<string, SimHost>();
  for (const dir of hostDirs) {
    const host = await SimHost.open(dir);
    hosts.set(dir, host);
    for (const d of await host.listDomains()) found.push({ host: dir, uuid: d.uuid, name: d.name, state: d.state });
  }
  for (const want of expected) {
    const copies = found.filter((d) => d.uuid === want.uuid);
    if (copies.length !== 1) {
      violations.push(`domain ${want.name} (${want.uuid}) exists ${copies.length} times`);
      continue;
    }
    const only = copies[0]!;
    if (only.state !== "running") violations.push(`domain ${want.name} is ${only.state}, not running`);
    const digest = (await hosts.get(only.host)!.digest(want.uuid)).digest;
    if (digest !== want.digest)
      violations.push(`domain ${want.name}: memory digest ${digest.slice(0, 12)} != ${want.digest.slice(0, 12)}`);
  }
  const byName = new Map<string, number>();
  for (const d of found) byName.set(d.name, (byName.get(d.name) ?? 0) + 1);
  for (const [name, count] of byName) if (count > 1) violations.push(`${count} domains are named ${name}`);
  return violations;
}

/** Every image a ref points to exports whole: every page and the stream's SHA-256 checked against the manifest. */
export async function checkRefsExport(store: ObjectStore): Promise<{ violations: string[]; images: number }> {
  const violations: string[] = [];
  const ids = new Set((await listImageRefs(store)).map((r) => r.id));
  for (const id of ids) {
    await verifyImage(store, id).catch((err: unknown) =>
      violations.push(`image ${id.slice(0, 12)} (ref'd) does not export: ${String(err)}`),
    );
  }
  return { violations, images: ids.size };
}

/**
 * No partial image is visible: every manifest in the store (referenced or
 * not: a manifest is written only after all its data) exports whole.
 */
export async function checkNoPartialImages(store: ObjectStore): Promise<{ violations: string[]; manifests: number }> {
  const violations: string[] = [];
  let manifests = 0;
  for await (const entry of store.list("manifests/")) {
    manifests++;
    const id = parseImageId(entry.key.slice(entry.key.lastIndexOf("/") + 1));
    await verifyImage(store, id).catch((err: unknown) =>
      violations.push(`manifest ${id.slice(0, 12)} is not a whole image: ${String(err)}`),
    );
  }
  return { violations, manifests };
}

/**
 * Runs GC with no grace period (nothing may be writing) and checks it
 * removed nothing a ref reaches. `lockStaleMs`: import locks older than this
 * are taken as left by dead holders. A killed import's lock otherwise blocks
 * GC until it goes stale (30 minutes); pass a small value only when no
 * import can be running.
 */
export async function checkGcKeepsReachable(
  store: ObjectStore,
  lockStaleMs?: number,
): Promise<{ violations: string[]; result: GcResult }> {
  if (lockStaleMs !== undefined) {
    // Wait until every lock left behind has gone stale at that age; GC's own lock, refreshed every lockStaleMs / 6, never does.
    while ((await listLocks(store)).some((l) => !isStale(l.record, lockStaleMs)))
      await new Promise((r) => setTimeout(r, 200));
  }
  const result = await gc(store, {
    graceMs: 0,
    ...(lockStaleMs === undefined ? {} : { lock: { staleMs: lockStaleMs } }),
  });
  const violations = result.missing.map((key) => `GC reports ${key} missing for a live image`);
  violations.push(...(await checkRefsExport(store)).violations.map((v) => `after GC: ${v}`));
  return { violations, result };
}

/** A corrupt object must fail the read with an error naming it (the key or its id). */
export function checkCorruptionNamed(error: unknown, objectKey: string): string[] {
  if (error === undefined) return [`corrupt ${objectKey} was read back without an error`];
  const text = `${String(error)} ${String((error as { cause?: unknown }).cause ?? "")}`;
  const id = objectKey.slice(objectKey.lastIndexOf("/") + 1);
  return text.includes(objectKey) || text.includes(id)
    ? []
    : [`corruption of ${objectKey} reported without naming it: ${text.slice(0, 300)}`];
}

/**
 * A sim host of 256 MiB at `dir` with `count` idle domains <host>-d0, -d1…,
 * PV and HVM in turn. Idle: their memory does not change, so the digests
 * taken now must hold at the end.
 */
export async function simHostWithIdleDomains(
  dir: string,
  host: string,
  count: number,
  memoryBytes: number,
): Promise<ExpectedDomain[]> {
  const sim = await SimHost.open(dir, { name: host, totalMemoryBytes: 256 * 2 ** 20 });
  const domains: ExpectedDomain[] = [];
  for (let i = 0; i < count; i++) {
    const d = await sim.createDomain({ name: `${host}-d${i}`, type: i % 2 === 0 ? "pv" : "hvm", memoryBytes });
    domains.push({ uuid: d.uuid, name: d.name, digest: (await sim.digest(d.uuid)).digest });
  }
  return domains;
}

/**
 * Placement for an evacuation: a pure function from the fleet's state to a
 * target per domain, or the reason there is none. Bin packing, largest
 * domain first, each onto the eligible host with the most memory left
 * (spreading the moves over many targets shortens the evacuation and keeps
 * per-target limits from serialising it).
 *
 * A host is eligible for a domain when it is up (not down, not draining, not
 * being evacuated), has every tag the domain requires, holds no domain of the
 * same anti-affinity group (counting placements already made), and has the
 * memory free after earlier placements and a reserve.
 */

export interface PlanHost {
  id: string;
  state: "up" | "down" | "draining";
  memoryFree: number;
  tags: readonly string[];
  /** Domains running there (uuids), for anti-affinity. */
  domains: readonly string[];
}

export interface PlanDomain {
  uuid: string;
  name: string;
  memory: number;
  source: string;
  /** Tags the target must have. */
  requireTags?: readonly string[];
  /** Domains sharing a group must not share a host. */
  antiAffinity?: string;
}

export interface PlanInput {
  hosts: readonly PlanHost[];
  /** Hosts being emptied: never targets. */
  evacuating: readonly string[];
  domains: readonly PlanDomain[];
  /** Memory kept free on every target (default 0). */
  reserveBytes?: number;
  /** Targets a domain must not go to (e.g. where it already failed). */
  exclude?: ReadonlyMap<string, ReadonlySet<string>>;
  /** Anti-affinity groups of domains already in the fleet, by uuid. */
  groups?: ReadonlyMap<string, string>;
}

export interface Placement {
  domain: PlanDomain;
  target: string;
}

export interface Unplaced {
  domain: PlanDomain;
  reason: string;
}

export interface Plan {
  placements: Placement[];
  unplaced: Unplaced[];
}

export function planPlacement(input: PlanInput): Plan {
  const reserve = input.reserveBytes ?? 0;
  const evacuating = new Set(input.evacuating);
  const groups = new Map(input.groups ?? []);
  for (const d of input.domains) if (d.antiAffinity) groups.set(d.uuid, d.antiAffinity);
  const targets = input.hosts
    .filter((h) => h.state === "up" && !evacuating.has(h.id))
    .map((h) => ({
      host: h,
      free: h.memoryFree - reserve,
      groups: new Set(h.domains.map((u) => groups.get(u)).filter((g): g is string => g !== undefined)),
    }));

  const placements: Placement[] = [];
  const unplaced: Unplaced[] = [];
  // Largest first; ties by uuid so the plan is deterministic.
  const order = [...input.domains].sort((x, y) => y.memory - x.memory || x.uuid.localeCompare(y.uuid));
  for (const d of order) {
    const excluded = input.exclude?.get(d.uuid);
    const why = { excluded: 0, tags: 0, affinity: 0, memory: 0 };
    let best: (typeof targets)[number] | undefined;
    for (const t of targets) {
      if (t.host.id === d.source || excluded?.has(t.host.id)) {
        why.excluded++;
        continue;
      }
      if (!(d.requireTags ?? []).every((tag) => t.host.tags.includes(tag))) {
        why.tags++;
        continue;
      }
      if (d.antiAffinity !== undefined && t.groups.has(d.antiAffinity)) {
        why.affinity++;
        continue;
      }
      if (t.free < d.memory) {
        why.memory++;
        continue;
      }
      if (!best || t.free > best.free || (t.free === best.free && t.host.id < best.host.id)) best = t;
    }
    if (!best) {
      unplaced.push({ domain: d, reason: explain(d, targets.length, why, targets) });
      continue;
    }
    best.free -= d.memory;
    if (d.antiAffinity !== undefined) best.groups.add(d.antiAffinity);
    placements.push({ domain: d, target: best.host.id });
  }
  return { placements, unplaced };
}

function explain(
  d: PlanDomain,
  eligible: number,
  why: Record<"excluded" | "tags" | "affinity" | "memory", number>,
  targets: Array<{ host: PlanHost; free: number }>,
): string {
  if (eligible === 0) return "no host is up outside the hosts being evacuated";
  const parts: string[] = [];
  if (why.memory > 0) {
    const largest = Math.max(0, ...targets.map((t) => t.free));
    parts.push(`${why.memory} host(s) lack memory (needs ${mib(d.memory)}, largest free ${mib(largest)})`);
  }
  if (why.tags > 0) parts.push(`${why.tags} host(s) lack tag(s) ${(d.requireTags ?? []).join(",")}`);
  if (why.affinity > 0) parts.push(`${why.affinity} host(s) already hold anti-affinity group ${d.antiAffinity ?? ""}`);
  if (why.excluded > 0) parts.push(`${why.excluded} host(s) excluded (source or failed before)`);
  return `no host can take it: ${parts.join("; ")}`;
}

function mib(bytes: number): string {
  return `${Math.round((bytes / 2 ** 20) * 10) / 10} MiB`;
}

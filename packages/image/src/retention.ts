/**
 * Retention: which images of each domain to keep. The rules are the usual
 * ones (restic's forget, borg's prune), counted per domain, newest first:
 * - keepLast N: the N newest images;
 * - keepDaily N: the newest image of each of the N newest days that have one;
 * - keepWeekly N: the newest image of each of the N newest ISO weeks that have one.
 * An image kept by any rule is kept. Days and weeks are UTC. Pruning only
 * deletes refs; GC reclaims the data.
 *
 * With a label, the rules count and remove only the images carrying it (per
 * domain): `--keep-last 7 --label nightly` keeps seven nightlies of each
 * domain and leaves its other images alone, as restic's `forget --tag`
 * does. A protected image is never removed and takes no place in the count.
 */
import type { ObjectStore } from "@xenfleet/store";
import { ImageUsageError } from "./errors.js";
import { loadManifest } from "./load.js";
import { protectedImages } from "./protection.js";
import { imageRefLabels, listImageRefs, removeImageRef, type ImageRef } from "./refs.js";

export interface RetentionPolicy {
  readonly keepLast?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  /** Only this domain (default: every domain). */
  readonly domain?: string;
  /** Only images with this label: the rules count and remove those alone. */
  readonly label?: string;
  /** Decide and report, delete nothing. */
  readonly dryRun?: boolean;
}

export interface PruneResult {
  readonly kept: ImageRef[];
  readonly removed: ImageRef[];
  /** Protected images within the policy's domain and label: kept, whatever the rules say. */
  readonly protected: ImageRef[];
}

export async function prune(store: ObjectStore, policy: RetentionPolicy): Promise<PruneResult> {
  for (const [name, n] of Object.entries({
    keepLast: policy.keepLast,
    keepDaily: policy.keepDaily,
    keepWeekly: policy.keepWeekly,
  })) {
    if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw new ImageUsageError(`${name} is a count, not ${n}`);
  }
  if (!policy.keepLast && !policy.keepDaily && !policy.keepWeekly) {
    throw new ImageUsageError("a retention policy keeps something: give keepLast, keepDaily or keepWeekly above 0");
  }
  const protectedIds = await protectedImages(store);
  const byDomain = new Map<string, ImageRef[]>();
  const shielded: ImageRef[] = [];
  for (const ref of await listImageRefs(store, policy.domain)) {
    if (policy.label !== undefined && !(await labelsOf(store, ref)).includes(policy.label)) continue;
    if (protectedIds.has(ref.id)) {
      shielded.push(ref);
      continue;
    }
    const list = byDomain.get(ref.domain) ?? [];
    list.push(ref);
    byDomain.set(ref.domain, list);
  }
  const kept: ImageRef[] = [...shielded];
  const removed: ImageRef[] = [];
  for (const refs of byDomain.values()) {
    const keep = selectKept(refs, policy);
    for (const r of refs) (keep.has(r) ? kept : removed).push(r);
  }
  if (!policy.dryRun) for (const r of removed) await removeImageRef(store, r);
  return { kept, removed, protected: shielded };
}

/** An image's labels: from its ref, or from its manifest for a ref that records none. */
async function labelsOf(store: ObjectStore, ref: ImageRef): Promise<readonly string[]> {
  const fromRef = await imageRefLabels(store, ref);
  if (fromRef !== undefined) return fromRef;
  try {
    return (await loadManifest(store, ref.id)).labels ?? [];
  } catch {
    // An unreadable image carries no label it could be selected by; unlabelled pruning still counts it.
    return [];
  }
}

/** The refs of one domain that the policy keeps. */
export function selectKept(refs: readonly ImageRef[], policy: RetentionPolicy): Set<ImageRef> {
  const newest = [...refs].sort((a, b) => b.created.getTime() - a.created.getTime() || (a.id < b.id ? -1 : 1));
  const keep = new Set<ImageRef>(newest.slice(0, policy.keepLast ?? 0));
  const byPeriod = (n: number | undefined, period: (d: Date) => string) => {
    const seen = new Set<string>();
    for (const r of newest) {
      if (seen.size >= (n ?? 0)) break;
      const key = period(r.created);
      if (seen.has(key)) continue;
      seen.add(key);
      keep.add(r);
    }
  };
  byPeriod(policy.keepDaily, (d) => d.toISOString().slice(0, 10));
  byPeriod(policy.keepWeekly, isoWeek);
  return keep;
}

/** The ISO 8601 week of a date, e.g. "2024-W07" (UTC). */
export function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day); // the Thursday of this week decides its year
  const year = d.getUTCFullYear();
  const week = Math.ceil(((d.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}

/**
 * What a migrate worker does about migrations its predecessor on this host
 * left half-done (killed mid-migration): at startup, before it takes jobs,
 * it reads every migration record naming this host as a side that did not
 * settle, and settles that side by the record (commit.ts `recoverSide`): a
 * paused source resumes (or, committed and confirmed, is destroyed), a
 * target copy starts (committed) or is destroyed (anything else), an
 * undecided migration is decided "aborted" first. A cold migration's image
 * is removed once its outcome is settled. A job retried after the crash
 * settles its side the same way (handlers.ts).
 *
 * Deciding "aborted" is always safe: it only stops a migration, and the
 * source keeps running. A side found committed but not confirmed by the
 * target keeps its source paused and stays unsettled, for the next sweep.
 */
import type { Hypervisor } from "@xenfleet/hypervisor";
import { keys, scanKeys, type RedisClient } from "@xenfleet/jobs";
import type { ObjectStore } from "@xenfleet/store";
import { discardImage } from "./cold.js";
import { recoverSide } from "./commit.js";
import { MigrationRecord, type Outcome } from "./rendezvous.js";

export type Side = "source" | "target";

export interface SettleDeps {
  hypervisor: Hypervisor;
  openStore?: (url: string) => Promise<ObjectStore>;
}

export interface Settled {
  migrationId: string;
  side: Side;
  outcome: Outcome;
  action: "started" | "destroyed" | "resumed" | "kept" | "none";
}

/** Settles this host's side of one migration by its record and marks it settled (unless the source must stay paused). */
export async function settleSide(
  deps: SettleDeps,
  record: MigrationRecord,
  side: Side,
  domainUuid: string,
  signal?: AbortSignal,
): Promise<Settled> {
  const r = await recoverSide(deps.hypervisor, record, side, domainUuid, signal);
  if (r.action === "kept") return { migrationId: record.migrationId, side, ...r };
  const fields = await record.get();
  // The sender made the cold image; once the outcome holds, nobody reads it again.
  if (side === "source" && fields.image && fields.store && deps.openStore)
    await discardImage(await deps.openStore(fields.store), fields.image);
  await record.set({ [`${side}Settled`]: 1 });
  return { migrationId: record.migrationId, side, ...r };
}

/** The startup sweep: settles every unsettled side this host started. Errors on one record are reported, not thrown. */
export async function sweepMigrations(
  redis: RedisClient,
  prefix: string,
  host: string,
  deps: SettleDeps,
  onError: (migrationId: string, err: unknown) => void = () => undefined,
): Promise<Settled[]> {
  const done: Settled[] = [];
  for await (const found of scanKeys(redis, keys.migrations(prefix), 500)) {
    for (const key of found) {
      const migrationId = key.slice(key.lastIndexOf(":") + 1);
      const record = new MigrationRecord(redis, prefix, migrationId);
      const fields = await record.get();
      for (const side of ["source", "target"] as const) {
        if (fields[side] !== host || fields[`${side}Settled`] === "1" || !fields.domain) continue;
        try {
          done.push(await settleSide(deps, record, side, fields.domain));
        } catch (err) {
          onError(migrationId, err);
        }
      }
    }
  }
  return done;
}

/**
 * The commit protocol: who may destroy the source, who may start the target,
 * and how a lost message or a dead process is resolved. The README has the
 * full sequence; the rule it rests on:
 *
 *   The outcome is written once, in Redis, by whichever side decides first
 *   (`MigrationRecord.decide`). Only the sender writes "committed", and only
 *   while it holds a complete paused source and the receiver has said READY.
 *   The target runs only under "committed"; the source resumes only under
 *   "aborted" (or when the live save itself failed, before any READY).
 *
 * So the domain runs in exactly one place whatever message is lost: a
 * receiver that never sees COMMIT asks Redis, and either learns "committed"
 * (and starts) or writes "aborted" first (and destroys its copy, while the
 * sender, finding "aborted", resumes the source).
 */
import type { DomainInfo, Hypervisor, MigrationReceiver, MigrationSender } from "@xenfleet/hypervisor";
import type { MigrationRecord, Outcome } from "./rendezvous.js";

/** Sender, after READY: claim the commit, or find the receiver gave up and resume the source. */
export async function senderDecide(record: MigrationRecord, handle: MigrationSender, signal?: AbortSignal): Promise<Outcome> {
  const outcome = await record.decide("committed", "", signal);
  if (outcome === "aborted") await handle.abort();
  return outcome;
}

/** Sender, when anything fails before it claimed the commit: record the abort and resume the source. */
export async function senderAbort(record: MigrationRecord, handle: MigrationSender | undefined, reason: string, signal?: AbortSignal): Promise<Outcome> {
  const outcome = await record.decide("aborted", reason, signal);
  // "committed" cannot be held here: only this sender writes it. Keep the source paused if it is.
  if (outcome === "aborted" && handle) await handle.abort();
  return outcome;
}

/**
 * Receiver, holding a paused copy but no COMMIT (connection lost, timeout,
 * ABORT): the record decides. Returns what happened to the copy.
 */
export async function receiverSettle(record: MigrationRecord, receiver: MigrationReceiver, reason: string, signal?: AbortSignal): Promise<Outcome> {
  const outcome = await record.decide("aborted", reason, signal);
  if (outcome === "committed") await receiver.start();
  else await receiver.abort();
  return outcome;
}

/**
 * After a worker restart, settle what a migration left on this host. The
 * record names the domid the target built (`targetDomid`), so a domain that
 * merely shares the uuid is never touched.
 * - target: committed → start the paused copy; otherwise abort (decided now if
 *   undecided) and destroy it.
 * - source: committed → destroy the paused source; aborted or undecided →
 *   decide "aborted" and resume it if it ran before.
 */
export async function recoverSide(
  hv: Hypervisor,
  record: MigrationRecord,
  side: "source" | "target",
  domainUuid: string,
  signal?: AbortSignal,
): Promise<{ outcome: Outcome; action: "started" | "destroyed" | "resumed" | "none" }> {
  const fields = await record.get();
  const local = await findDomain(hv, domainUuid);
  if (side === "target") {
    const ours = local !== undefined && fields.targetDomid !== undefined && Number(fields.targetDomid) === local.domid;
    const outcome = (await record.outcome()) ?? (await record.decide("aborted", "target worker restarted before the commit", signal));
    if (!ours || !local) return { outcome, action: "none" };
    if (outcome === "committed") {
      await hv.unpause(local.uuid);
      return { outcome, action: "started" };
    }
    await hv.destroy(local.uuid);
    return { outcome, action: "destroyed" };
  }
  const outcome = (await record.outcome()) ?? (await record.decide("aborted", "source worker restarted before the commit", signal));
  if (!local) return { outcome, action: "none" };
  if (outcome === "committed") {
    if (local.state === "paused") {
      await hv.destroy(local.uuid);
      return { outcome, action: "destroyed" };
    }
    return { outcome, action: "none" };
  }
  if (local.state === "paused" && fields.sourceWasRunning === "1") {
    await hv.unpause(local.uuid);
    return { outcome, action: "resumed" };
  }
  return { outcome, action: "none" };
}

async function findDomain(hv: Hypervisor, uuid: string): Promise<DomainInfo | undefined> {
  return (await hv.listDomains()).find((d) => d.uuid === uuid);
}

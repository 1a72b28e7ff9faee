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
import {
  DomainExistsError,
  findDomain,
  type Hypervisor,
  type MigrationReceiver,
  type MigrationSender,
} from "@xenfleet/hypervisor";
import type { MigrationRecord, Outcome } from "./rendezvous.js";

/** How a reason the receiver records starts, so the sender can tell it from its own. */
export const RECEIVER_REASON = "receiver: ";

/** Sender, after READY: claim the commit, or find the receiver gave up and resume the source. */
export async function senderDecide(
  record: MigrationRecord,
  handle: MigrationSender,
  signal?: AbortSignal,
): Promise<Outcome> {
  const outcome = await record.decide("committed", "", signal);
  if (outcome === "aborted") await handle.abort();
  return outcome;
}

/** Sender, when anything fails before it claimed the commit: record the abort and resume the source. */
export async function senderAbort(
  record: MigrationRecord,
  handle: MigrationSender | undefined,
  reason: string,
  signal?: AbortSignal,
): Promise<Outcome> {
  const outcome = await record.decide("aborted", reason, signal);
  // "committed" cannot be held here: only this sender writes it. Keep the source paused if it is.
  if (outcome === "aborted" && handle) await handle.abort();
  return outcome;
}

/**
 * Receiver, holding a paused copy but no COMMIT (connection lost, timeout,
 * ABORT): the record decides. Returns what happened to the copy.
 */
export async function receiverSettle(
  record: MigrationRecord,
  receiver: MigrationReceiver,
  reason: string,
  signal?: AbortSignal,
): Promise<Outcome> {
  const outcome = await record.decide("aborted", reason, signal);
  if (outcome === "committed") {
    await receiver.start();
    // The sender destroys the source once it reads this.
    await record.set({ running: 1 });
  } else await receiver.abort();
  return outcome;
}

/**
 * Receiver, before it builds the copy: refuse a host that already holds a
 * domain with this uuid (the domain would exist twice), and record that a
 * copy is being built. A receiver killed after the hypervisor built the copy
 * but before it recorded the domid leaves only this mark behind; recovery
 * takes the uuid's domain on this host for that copy, since none was here
 * before and only this host's migrate worker builds migration copies.
 */
export async function claimTargetBuild(hv: Hypervisor, record: MigrationRecord, domainUuid: string): Promise<void> {
  if (await findDomain(hv, domainUuid)) throw new DomainExistsError("uuid", domainUuid);
  await record.set({ targetBuilding: 1 });
}

/**
 * After a worker restart, settle what a migration left on this host. The
 * record names the domid the target built (`targetDomid`), so a domain that
 * merely shares the uuid is never touched; without a domid, the copy is the
 * uuid's domain here if the receiver had claimed the build (above).
 * - target: committed → bring the copy to the source's state (start it if the
 *   source ran) and say so (`running`); otherwise abort (decided now if
 *   undecided) and destroy it.
 * - source: committed → destroy the paused source, but only once the target
 *   said it holds the domain (`running`); until then it stays paused
 *   ("kept"). Aborted or undecided → decide "aborted" and resume it if it ran
 *   before.
 */
export async function recoverSide(
  hv: Hypervisor,
  record: MigrationRecord,
  side: "source" | "target",
  domainUuid: string,
  signal?: AbortSignal,
): Promise<{ outcome: Outcome; action: "started" | "destroyed" | "resumed" | "kept" | "none" }> {
  const local = await findDomain(hv, domainUuid);
  const reason = `${side} worker restarted before the commit`;
  const outcome = (await record.outcome()) ?? (await record.decide("aborted", reason, signal));
  const fields = await record.get();
  const ranBefore = fields.sourceWasRunning === "1";
  if (side === "target") {
    const ours =
      local !== undefined &&
      (fields.targetDomid !== undefined ? Number(fields.targetDomid) === local.domid : fields.targetBuilding === "1");
    if (!ours || !local) return { outcome, action: "none" };
    if (outcome === "committed") {
      if (ranBefore && local.state === "paused") await hv.unpause(local.uuid);
      await record.set({ running: 1 });
      return { outcome, action: "started" };
    }
    await hv.destroy(local.uuid);
    return { outcome, action: "destroyed" };
  }
  if (local?.state !== "paused") return { outcome, action: "none" };
  if (outcome === "committed") {
    if (fields.running !== "1") return { outcome, action: "kept" };
    await hv.destroy(local.uuid);
    return { outcome, action: "destroyed" };
  }
  if (ranBefore) {
    await hv.unpause(local.uuid);
    return { outcome, action: "resumed" };
  }
  return { outcome, action: "none" };
}

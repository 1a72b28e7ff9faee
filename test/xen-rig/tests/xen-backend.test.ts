/**
 * The `xen` Hypervisor backend and the native libxl addon against a real Xen
 * 4.17 in the rig's dom0, with real guests (Debian's kernel and a busybox
 * heartbeat). Every restore is checked by the guest itself: it must go on
 * counting its heartbeat from where the image left it.
 */
import { createReadStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { verifyStream } from "@xenfleet/format";
import { DomainNotFoundError, XenHypervisor } from "@xenfleet/hypervisor";
import { Collector } from "@xenfleet/hypervisor/testing";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  clearWork,
  createGuest,
  destroyAllGuests,
  exec,
  GUEST_MEMORY_MIB,
  heartbeats,
  waitForNewHeartbeats,
  lastHeartbeat,
  MiB,
  onXen,
  retryingTripleFaults,
  takeXenLog,
  timing,
  VERIFY_STREAM_V2,
  waitForHeartbeat,
  workFile,
  XEN_PYTHONPATH,
  xl,
} from "./rig.js";

/** Xen's verifier and the project's (what `xenfleet stream verify` runs), on an xl-format image file. */
async function expectValidImage(file: string): Promise<void> {
  const xen = await exec(VERIFY_STREAM_V2, ["-f", "xl", "-i", file], { PYTHONPATH: XEN_PYTHONPATH });
  expect(xen.stderr + xen.stdout).toBe("");
  expect(xen.code).toBe(0);
  const ours = await verifyStream(file);
  expect(ours.ok ? "ok" : ours.error.message).toBe("ok");
}

/** The guest printed new heartbeats after `seen` lines, continuing from at least `from` (not rebooted). */
async function expectContinues(name: string, seen: number, from: number): Promise<void> {
  const after = await waitForNewHeartbeats(name, seen);
  expect(after[0]).toBeGreaterThanOrEqual(from);
  expect(after).toEqual([...after].sort((a, b) => a - b));
}

/** A test whose guest triple-faulted under QEMU's emulation runs again (rig.ts). */
function rigTest(name: string, body: () => Promise<void>): void {
  it(name, () => retryingTripleFaults(body));
}

describe.skipIf(!onXen)("xen backend on a real hypervisor", () => {
  let host: XenHypervisor;

  beforeAll(() => {
    host = new XenHypervisor();
  });
  // Xen's log from here on belongs to this test (guestTripleFaulted).
  beforeEach(() => void takeXenLog());
  afterEach(async () => {
    await destroyAllGuests();
    await clearWork();
  });
  afterAll(() => {
    host.close();
  });

  rigTest("lists dom0 and a PV guest, finds the guest by domid, uuid and name", async () => {
    await createGuest("rig-list", "pv");
    const all = await host.listDomains();
    expect(all.find((d) => d.domid === 0)).toMatchObject({ name: "Domain-0", type: "pv" });
    const listed = all.find((d) => d.name === "rig-list");
    expect(listed).toMatchObject({ type: "pv", memoryBytes: GUEST_MEMORY_MIB * MiB, vcpus: 1, state: "running" });
    expect(listed!.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await host.domainInfo(listed!.domid)).toEqual(listed);
    expect(await host.domainInfo(listed!.uuid)).toEqual(listed);
    expect(await host.domainInfo("rig-list")).toEqual(listed);
    await expect(host.domainInfo("no-such-domain")).rejects.toBeInstanceOf(DomainNotFoundError);
    await host.destroy("rig-list");
    await expect(host.domainInfo(listed!.uuid)).rejects.toBeInstanceOf(DomainNotFoundError);
  });

  rigTest("pauses and unpauses idempotently; the heartbeat stops while paused", async () => {
    await createGuest("rig-pause", "pv");
    await host.pause("rig-pause");
    await host.pause("rig-pause");
    expect((await host.domainInfo("rig-pause")).state).toBe("paused");
    const atPause = await lastHeartbeat("rig-pause");
    await new Promise((r) => setTimeout(r, 4000));
    expect(await lastHeartbeat("rig-pause")).toBeLessThanOrEqual(atPause + 1);
    await host.unpause("rig-pause");
    await host.unpause("rig-pause");
    expect((await host.domainInfo("rig-pause")).state).toBe("running");
    await waitForHeartbeat("rig-pause", atPause + 1);
  });

  rigTest(
    "suspend save: the guest is gone, the image verifies, and restoring it resumes the guest where it stopped",
    async () => {
      await createGuest("rig-suspend", "pv");
      const before = await host.domainInfo("rig-suspend");
      const image = new Collector();
      const report = await host.save("rig-suspend", image, { mode: "suspend" });
      const bytes = image.bytes();
      await timing("save suspend (XenHypervisor.save)", report.durationMs, {
        type: "pv",
        memoryMiB: GUEST_MEMORY_MIB,
        bytes: bytes.length,
      });
      expect(report.bytesWritten).toBe(bytes.length);
      expect(bytes.length).toBeGreaterThan(GUEST_MEMORY_MIB * MiB * 0.1);
      await expect(host.domainInfo("rig-suspend")).rejects.toBeInstanceOf(DomainNotFoundError);
      const stoppedAt = await lastHeartbeat("rig-suspend");
      const seen = (await heartbeats("rig-suspend")).length;

      const file = await workFile("suspend.xl");
      await writeFile(file, bytes);
      await expectValidImage(file);

      const started = performance.now();
      const back = await host.restore(Readable.from([bytes]));
      await timing("restore (XenHypervisor.restore)", performance.now() - started, {
        type: "pv",
        memoryMiB: GUEST_MEMORY_MIB,
      });
      expect(back).toMatchObject({
        uuid: before.uuid,
        name: "rig-suspend",
        type: "pv",
        memoryBytes: before.memoryBytes,
        state: "running",
      });
      await expectContinues("rig-suspend", seen, stoppedAt);
    },
  );

  rigTest("checkpoint save: the guest keeps running, and the image restores to the checkpointed state", async () => {
    await createGuest("rig-ckpt", "pv");
    const atCheckpoint = await lastHeartbeat("rig-ckpt");
    const image = new Collector();
    const report = await host.save("rig-ckpt", image, { mode: "checkpoint" });
    await timing("save checkpoint (XenHypervisor.save)", report.durationMs, {
      type: "pv",
      memoryMiB: GUEST_MEMORY_MIB,
    });
    expect((await host.domainInfo("rig-ckpt")).state).toBe("running");
    const afterCheckpoint = await waitForHeartbeat("rig-ckpt", atCheckpoint + 2);

    const file = await workFile("checkpoint.xl");
    await writeFile(file, image.bytes());
    await expectValidImage(file);

    // One domain per name: the original goes, its checkpoint comes back.
    await host.destroy("rig-ckpt");
    const seen = (await heartbeats("rig-ckpt")).length;
    const back = await host.restore(Readable.from([image.bytes()]));
    expect(back).toMatchObject({ name: "rig-ckpt", state: "running" });
    const after = await waitForNewHeartbeats("rig-ckpt", seen);
    // It continues from the checkpoint, before the original's last beats: the checkpoint's state, not a reboot.
    expect(after[0]).toBeGreaterThanOrEqual(atCheckpoint);
    expect(after[0]).toBeLessThanOrEqual(afterCheckpoint);
  });

  rigTest(
    "a failed save leaves the guest running: live save of a PV guest on Debian's Xen (no shadow paging)",
    async () => {
      await createGuest("rig-live-pv", "pv");
      const error = await host.save("rig-live-pv", new Collector(), { mode: "live" }).then(
        () => undefined,
        (e: unknown) => e as { code?: string; message?: string },
      );
      expect(error?.code).toBe("XF_XEN_LIBXL_FAILED");
      expect((await host.domainInfo("rig-live-pv")).state).toBe("running");
      await waitForHeartbeat("rig-live-pv", (await lastHeartbeat("rig-live-pv")) + 1);
    },
  );

  rigTest("an image saved through the addon restores with `xl restore`", async () => {
    await createGuest("rig-to-xl", "pv");
    const image = new Collector();
    await host.save("rig-to-xl", image, { mode: "suspend" });
    const stoppedAt = await lastHeartbeat("rig-to-xl");
    const seen = (await heartbeats("rig-to-xl")).length;
    const file = await workFile("to-xl.xl");
    await writeFile(file, image.bytes());
    const started = performance.now();
    await xl("restore", file);
    await timing("restore (xl restore of an addon image)", performance.now() - started, { type: "pv" });
    expect((await host.domainInfo("rig-to-xl")).state).toBe("running");
    await expectContinues("rig-to-xl", seen, stoppedAt);
  });

  rigTest("an `xl save` image restores through the addon", async () => {
    await createGuest("rig-from-xl", "pv");
    const uuid = (await host.domainInfo("rig-from-xl")).uuid;
    const file = await workFile("from-xl.xl");
    const started = performance.now();
    await xl("save", "rig-from-xl", file);
    await timing("save (xl save)", performance.now() - started, { type: "pv", memoryMiB: GUEST_MEMORY_MIB });
    await expect(host.domainInfo("rig-from-xl")).rejects.toBeInstanceOf(DomainNotFoundError);
    const stoppedAt = await lastHeartbeat("rig-from-xl");
    const seen = (await heartbeats("rig-from-xl")).length;
    const back = await host.restore(createReadStream(file));
    expect(back).toMatchObject({ uuid, name: "rig-from-xl", type: "pv", state: "running" });
    await expectContinues("rig-from-xl", seen, stoppedAt);
  });

  rigTest(
    "live-sends a PVH guest into a sink; the image verifies and restores once the source is committed",
    async () => {
      await createGuest("rig-pvh", "pvh");
      const before = await host.domainInfo("rig-pvh");
      expect(before.type).toBe("pvh");
      const wire = new Collector();
      const sender = await host.migrateSend("rig-pvh", wire);
      await timing("live send (XenHypervisor.migrateSend)", sender.report.durationMs, {
        type: "pvh",
        memoryMiB: GUEST_MEMORY_MIB,
      });
      const stoppedAt = await lastHeartbeat("rig-pvh");
      const seen = (await heartbeats("rig-pvh")).length;
      const file = await workFile("pvh-live.xl");
      await writeFile(file, wire.bytes());
      await expectValidImage(file);
      await sender.commit();
      await expect(host.domainInfo("rig-pvh")).rejects.toBeInstanceOf(DomainNotFoundError);
      const started = performance.now();
      const back = await host.restore(Readable.from([await readFile(file)]));
      await timing("restore (XenHypervisor.restore)", performance.now() - started, {
        type: "pvh",
        memoryMiB: GUEST_MEMORY_MIB,
      });
      expect(back).toMatchObject({ uuid: before.uuid, name: "rig-pvh", type: "pvh", state: "running" });
      await expectContinues("rig-pvh", seen, stoppedAt);
    },
  );

  rigTest("an aborted live send resumes the PVH source", async () => {
    await createGuest("rig-pvh-abort", "pvh");
    const sender = await host.migrateSend("rig-pvh-abort", new Collector());
    const stoppedAt = await lastHeartbeat("rig-pvh-abort");
    await sender.abort();
    expect((await host.domainInfo("rig-pvh-abort")).state).toBe("running");
    await waitForHeartbeat("rig-pvh-abort", stoppedAt);
  });
});

/**
 * Pre-copy options a hypervisor cannot honour are refused before a migration
 * starts, never accepted and ignored. The xen backend honours none of them
 * (Xen 4.17's libxl leaves pre-copy to libxc's fixed policy); it refuses them
 * without touching libxl, so this runs on a machine without Xen too.
 */
import { describe, expect, it } from "vitest";
import { NotSupportedError, XenHypervisor } from "@xenfleet/hypervisor";
import { testRedis } from "@xenfleet/jobs/testing";
import { MigrationRecord } from "../src/rendezvous.js";
import { sendLive } from "../src/sender.js";
import { cleanupsAfterEach } from "./helpers/cleanups.js";

const cleanups = cleanupsAfterEach();

describe("a live send with options its hypervisor cannot honour", () => {
  for (const live of [{ maxDowntimeMs: 300 }, { timeoutMs: 60_000 }, { timeoutAction: "abort" as const }]) {
    it(`is refused up front, saying what Xen does instead, and aborted for the receiver (${Object.keys(live)[0]})`, async () => {
      const { redis, prefix, cleanup } = testRedis();
      cleanups.push(cleanup);
      const record = new MigrationRecord(redis, prefix, `refused-${Object.keys(live)[0]}`);
      const err = await sendLive({
        hypervisor: new XenHypervisor(),
        record,
        domain: "vm1",
        live,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      // Refused before libxl was asked anything: not the no-Xen error.
      expect(err).toBeInstanceOf(NotSupportedError);
      expect((err as Error).message).toMatch(/libxc's pre-copy sends memory in up to 5 passes/);
      expect(await record.outcome()).toBe("aborted");
      expect((await record.get()).reason).toMatch(/xen backend cannot honour/);
    });
  }
});

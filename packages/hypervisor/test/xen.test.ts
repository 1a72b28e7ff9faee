import { PassThrough, Readable } from "node:stream";
import { XenfleetError } from "@xenfleet/core";
import { describe, expect, it } from "vitest";
import { XenHypervisor } from "@xenfleet/hypervisor";

/**
 * This machine has no hypervisor: every call of the xen backend must fail
 * with a typed error saying so (XenUnavailableError from the addon, or
 * NotSupportedError naming the addon when it is not built), never succeed
 * with made-up data. On a dom0 the conformance suite runs instead, given a
 * guest to create (see README).
 */
async function xenAnswers(): Promise<boolean> {
  try {
    const native = await import("@xenfleet/native");
    return native.xenAvailable().available;
  } catch {
    return false;
  }
}

const available = await xenAnswers();

describe.skipIf(available)("xen backend without a hypervisor", () => {
  const x = new XenHypervisor();
  const calls: Array<[string, () => Promise<unknown>]> = [
    ["hostInfo", () => x.hostInfo()],
    ["listDomains", () => x.listDomains()],
    ["domainInfo", () => x.domainInfo(1)],
    ["pause", () => x.pause(1)],
    ["unpause", () => x.unpause("vm")],
    ["destroy", () => x.destroy(1)],
    ["save", () => x.save(1, new PassThrough(), { mode: "checkpoint" })],
    ["restore", () => x.restore(Readable.from([Buffer.alloc(64)]))],
    ["migrateSend", () => x.migrateSend(1, new PassThrough())],
    ["migrateReceive", () => x.migrateReceive(Readable.from([Buffer.alloc(64)]))],
    ["digest", () => x.digest(1)],
  ];
  for (const [name, call] of calls) {
    it(`${name} fails with the clear no-Xen error`, async () => {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(XenfleetError);
      expect(["XF_XEN_UNAVAILABLE", "XF_HYPERVISOR_UNSUPPORTED"]).toContain((err as XenfleetError).code);
      if ((err as XenfleetError).code === "XF_HYPERVISOR_UNSUPPORTED")
        expect((err as Error).message).toMatch(/@xenfleet\/native/);
    });
  }
});

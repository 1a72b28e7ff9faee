/**
 * The shared Hypervisor conformance suite against the `xen` backend on the
 * rig's real hypervisor. Host and peer are two XenHypervisor objects on the
 * one dom0, so a domain can never exist on both at once. Guests are real:
 * Debian's kernel needs 128 MiB. The backend reads no guest memory, so a
 * restored guest proves its state by counting on from its image's heartbeat.
 * Debian's Xen has no shadow paging: only PVH guests save live, so PV guests
 * are saved by suspend and checkpoint (and must refuse a live save) and PVH
 * guests live. PVH guests under QEMU's emulation sometimes triple-fault
 * (README.md, "Known gaps"): a test that failed with such a fault in Xen's
 * log runs again (the fixture's failedByEnvironment).
 */
import { XenHypervisor } from "@xenfleet/hypervisor";
import { describeHypervisorConformance } from "@xenfleet/hypervisor/testing";
import { beforeEach, describe, expect, it } from "vitest";
import {
  clearWork,
  createGuest,
  destroyAllGuests,
  GUEST_MEMORY_MIB,
  heartbeats,
  MiB,
  guestTripleFaulted,
  onXen,
  takeXenLog,
  waitForNewHeartbeats,
} from "./rig.js";

if (onXen) {
  // Xen's log from here on belongs to this test (guestTripleFaulted).
  beforeEach(() => void takeXenLog());
  describeHypervisorConformance("xen (real hypervisor)", async () => {
    const host = new XenHypervisor();
    const peer = new XenHypervisor();
    return {
      host,
      peer,
      types: ["pv"],
      domainMemoryBytes: GUEST_MEMORY_MIB * MiB,
      capabilities: {
        digest: false,
        restoreAs: true,
        separatePeer: false,
        liveTypes: ["pvh"],
        pagesPerIteration: false,
      },
      async createDomain(h, spec) {
        await createGuest(spec.name, spec.type === "pvh" ? "pvh" : "pv", Math.ceil(spec.memoryBytes / MiB));
        return h.domainInfo(spec.name);
      },
      // A guest that carried on counts up from where its image left it; a
      // rebooted one would start again at 1.
      async expectCarriesOn(_h, domain) {
        const seen = await heartbeats(domain.name);
        const next = await waitForNewHeartbeats(domain.name, seen.length);
        expect(next[0]).toBeGreaterThan(1);
        expect(next[1]).toBe(next[0]! + 1);
      },
      // A guest's triple fault under emulation runs the test again (rig.ts).
      failedByEnvironment: guestTripleFaulted,
      async cleanup() {
        await destroyAllGuests();
        await clearWork();
        host.close();
        peer.close();
      },
    };
  });
} else {
  describe.skip("Hypervisor conformance: xen (real hypervisor)", () => {
    it("runs only in the Xen rig (test/xen-rig/run.sh)", () => undefined);
  });
}

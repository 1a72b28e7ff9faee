/**
 * The shared Hypervisor conformance suite against the `xen` backend on the
 * rig's real hypervisor. Host and peer are two XenHypervisor objects on the
 * one dom0. Guests are real: Debian's kernel needs 128 MiB, so a spec asking
 * for less gets 128 MiB (the suite's sizes assume the sim's tiny domains).
 */
import { XenHypervisor } from "@xenfleet/hypervisor";
import { describeHypervisorConformance } from "@xenfleet/hypervisor/testing";
import { describe, it } from "vitest";
import { clearWork, createGuest, destroyAllGuests, GUEST_MEMORY_MIB, MiB, onXen } from "./rig.js";

if (onXen) {
  describeHypervisorConformance("xen (real hypervisor)", async () => {
    const host = new XenHypervisor();
    const peer = new XenHypervisor();
    return {
      host,
      peer,
      types: ["pv", "pvh"],
      async createDomain(h, spec) {
        const type = spec.type === "pvh" ? "pvh" : "pv";
        await createGuest(spec.name, type, Math.max(GUEST_MEMORY_MIB, Math.ceil(spec.memoryBytes / MiB)));
        return h.domainInfo(spec.name);
      },
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

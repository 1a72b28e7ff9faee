import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimHost } from "@xenfleet/hypervisor";
import { describeHypervisorConformance } from "@xenfleet/hypervisor/testing";

describeHypervisorConformance("sim", async () => {
  const base = await mkdtemp(join(tmpdir(), "xenfleet-sim-conf-"));
  const host = await SimHost.open(join(base, "a"));
  const peer = await SimHost.open(join(base, "b"));
  return {
    host,
    peer,
    types: ["pv", "hvm", "pvh"],
    createDomain: (h, spec) => (h as SimHost).createDomain({ ...spec, vcpus: 2 }),
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
});

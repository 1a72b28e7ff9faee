import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimHost, type DomainType, type Hypervisor } from "@xenfleet/hypervisor";
import { describeHypervisorConformance, type ConformanceDomainSpec } from "@xenfleet/hypervisor/testing";

async function simFixture() {
  const base = await mkdtemp(join(tmpdir(), "xenfleet-sim-conf-"));
  const host = await SimHost.open(join(base, "a"));
  const peer = await SimHost.open(join(base, "b"));
  return {
    host,
    peer,
    types: ["pv", "hvm", "pvh"] as DomainType[],
    createDomain: (h: Hypervisor, spec: ConformanceDomainSpec) => (h as SimHost).createDomain({ ...spec, vcpus: 2 }),
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}

describeHypervisorConformance("sim", simFixture);

/**
 * A fixture that blames some failures on the environment gets those tests
 * run again: here the first domain each test creates fails with such a
 * fault, so every test that creates one passes only on its second run.
 */
class EnvironmentFault extends Error {}
let faultNext = true;
describeHypervisorConformance("sim, its first domain per test failing for the environment", async () => {
  const fixture = await simFixture();
  let faulted = false;
  return {
    ...fixture,
    async createDomain(h, spec) {
      if (faultNext) {
        faultNext = false;
        faulted = true;
        throw new EnvironmentFault("the emulator lost the guest");
      }
      return fixture.createDomain(h, spec);
    },
    failedByEnvironment: (err) => err instanceof EnvironmentFault,
    async cleanup() {
      // The next test fails once again, unless this run was the failed one.
      if (!faulted) faultNext = true;
      await fixture.cleanup();
    },
  };
});

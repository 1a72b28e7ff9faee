import { PassThrough, Readable } from "node:stream";
import { XenfleetError } from "@xenfleet/core";
import { describe, expect, it } from "vitest";
import { BadDomainUuidError, NotSupportedError, StreamContentError, XenHypervisor } from "@xenfleet/hypervisor";
import { renamed } from "../src/xen/xen-host.js";

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

describe("xen backend pre-copy options", () => {
  const x = new XenHypervisor();
  it.each([
    [{ maxDowntimeMs: 300 }, /a downtime target \(--max-downtime\)/],
    [{ timeoutMs: 600_000 }, /a pre-copy deadline \(--timeout\)/],
    [{ timeoutAction: "force" as const }, /a timeout action \(--timeout-action\)/],
    [{ maxIterations: 30, dirtyPagesThreshold: 10 }, /a number of pre-copy passes, a dirty-page threshold/],
  ])("refuses %o, saying what libxl and libxc do instead", (live, what) => {
    let err: unknown;
    try {
      x.checkLiveOptions(live);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as NotSupportedError).code).toBe("XF_HYPERVISOR_UNSUPPORTED");
    expect((err as Error).message).toMatch(what);
    expect((err as Error).message).toMatch(
      /libxl migration has no downtime target or deadline; libxc's pre-copy sends memory in up to 5 passes \(fewer once under 50 pages are dirty\), then pauses the guest/,
    );
  });

  it("takes a migration without options", () => {
    expect(() => x.checkLiveOptions({})).not.toThrow();
  });
});

describe("xen restore under another name or uuid", () => {
  const config = JSON.stringify({
    c_info: { type: "hvm", name: "web", uuid: "6f1e2d3c-0000-4000-8000-00000000000a" },
    b_info: { max_memkb: 1024 },
  });

  it("writes the new identity into the config libxl builds the domain from, keeping the rest", () => {
    const uuid = "7b3e2f1c-0d4a-4e5b-9c6d-1a2b3c4d5e6f";
    expect(JSON.parse(renamed(config, { name: "web-copy", uuid }))).toEqual({
      c_info: { type: "hvm", name: "web-copy", uuid },
      b_info: { max_memkb: 1024 },
    });
    expect(renamed(config, {})).toBe(config);
  });

  it("refuses a uuid that is not a GUID, and a config that is not a JSON object", () => {
    expect(() => renamed(config, { uuid: "../../etc" })).toThrow(BadDomainUuidError);
    expect(() => renamed("[1]", { name: "x" })).toThrow(StreamContentError);
  });
});

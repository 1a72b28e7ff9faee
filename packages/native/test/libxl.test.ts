import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Libxl, LIBXL_BUILT, NativeArgumentError, XenUnavailableError, xenAvailable } from "../lib/index.js";
import { addon } from "../lib/addon.js";

// These tests describe a host without a hypervisor (the CI machines). On a
// Xen dom0 they are skipped; the hypervisor package's conformance suite
// drives the real calls there.
const hasXen = existsSync("/dev/xen/privcmd") || existsSync("/proc/xen/privcmd");

describe.skipIf(hasXen)("libxl without a hypervisor", () => {
  it("xenAvailable says no and why", () => {
    const probe = xenAvailable();
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/no Xen hypervisor available/);
    expect(probe.reason).toMatch(LIBXL_BUILT ? /privcmd/ : /built without libxl/);
  });

  it("Libxl.open rejects with XenUnavailableError carrying libxl's reason", async () => {
    const error = await Libxl.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(XenUnavailableError);
    const unavailable = error as XenUnavailableError;
    expect(unavailable.code).toBe("XF_XEN_UNAVAILABLE");
    expect(unavailable.unrecoverable).toBe(true);
    expect(unavailable.message).toMatch(/no Xen hypervisor available/);
    if (LIBXL_BUILT) expect(unavailable.message).toMatch(/libxl_ctx_alloc failed/);
  });

  it("open fails the same way every time (no state left behind)", async () => {
    for (let i = 0; i < 3; i++) await expect(Libxl.open()).rejects.toThrow(XenUnavailableError);
  });
});

describe.skipIf(!LIBXL_BUILT)("libxl argument checks", () => {
  // Arguments are checked before the context handle, so the checks can be
  // exercised here with no context; nothing reaches libxl.
  const noHandle = undefined as never;
  const validConfig = '{"c_info":{"type":"pv","name":"d"}}';

  it.each([
    ["a negative domid", () => addon.libxlPause(noHandle, -1)],
    ["a fractional domid", () => addon.libxlUnpause(noHandle, 1.5)],
    ["a reserved domid (DOMID_FIRST_RESERVED)", () => addon.libxlDestroy(noHandle, 0x7ff0)],
    ["a string domid", () => addon.libxlDomainInfo(noHandle, "1" as never)],
    ["a missing domid", () => addon.libxlResume(noHandle, undefined as never)],
  ])("refuses %s", (_name, call) => {
    expect(call).toThrow(/domid must be an integer from 0 to 32751/);
  });

  it.each([
    ["a negative fd", () => addon.libxlSave(noHandle, 1, -1, false, false)],
    ["a fractional fd", () => addon.libxlRestore(noHandle, 0.5, validConfig, false, 2)],
    ["a missing fd", () => addon.libxlSave(noHandle, 1, undefined as never, false, false)],
  ])("refuses %s", (_name, call) => {
    expect(call).toThrow(/fd must be an open file descriptor/);
  });

  it("refuses non-boolean save flags", () => {
    expect(() => addon.libxlSave(noHandle, 1, 3, "yes" as never, false)).toThrow(/live must be a boolean/);
    expect(() => addon.libxlSave(noHandle, 1, 3, true, 1 as never)).toThrow(/checkpoint must be a boolean/);
  });

  it("refuses a bad restore config or stream version", () => {
    expect(() => addon.libxlRestore(noHandle, 3, "", false, 2)).toThrow(/configJson must be a non-empty string/);
    expect(() => addon.libxlRestore(noHandle, 3, "{\u0000}", false, 2)).toThrow(/must not contain NUL/);
    expect(() => addon.libxlRestore(noHandle, 3, validConfig, false, 3)).toThrow(/streamVersion must be 1 or 2/);
  });

  it.each([
    ["a number", 42],
    ["a plain object", {}],
    ["undefined", undefined],
  ])("refuses %s as a context handle", (_name, handle) => {
    expect(() => addon.libxlListDomains(handle as never)).toThrow(/not a libxl context handle/);
    expect(() => addon.libxlClose(handle as never)).toThrow(/not a libxl context handle/);
    expect(() => addon.libxlPause(handle as never, 1)).toThrow(/not a libxl context handle/);
  });

  it("reports argument errors as XF_NATIVE_BAD_ARGUMENT", () => {
    let caught: unknown;
    try {
      addon.libxlPause(noHandle, -1);
    } catch (error) {
      caught = error;
    }
    expect((caught as { code?: string }).code).toBe("XF_NATIVE_BAD_ARGUMENT");
  });
});

describe("typed errors", () => {
  it("NativeArgumentError and XenUnavailableError are XenfleetErrors with fixed codes", async () => {
    const { XenfleetError } = await import("@xenfleet/core");
    expect(new NativeArgumentError("x")).toBeInstanceOf(XenfleetError);
    expect(new XenUnavailableError("x").code).toBe("XF_XEN_UNAVAILABLE");
  });
});

import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";

const base = { XENFLEET_STORE: "file:///var/lib/xenfleet/store", XENFLEET_HOST: "host-1" };

describe("save worker config", () => {
  it("fills in the defaults of a sim host", () => {
    expect(loadConfig(base)).toMatchObject({
      XENFLEET_REDIS: "redis://127.0.0.1:6379",
      XENFLEET_PREFIX: "xenfleet",
      XENFLEET_HOST: "host-1",
      XENFLEET_HYPERVISOR: "sim",
      XENFLEET_SIM_MEMORY: 64 * 2 ** 30,
      XENFLEET_HOST_TAGS: [],
      XENFLEET_HEARTBEAT_MS: 5000,
      XENFLEET_CONCURRENCY: 1,
      XENFLEET_COMPRESS_LEVEL: 3,
    });
  });

  it("reads sizes, tags and the xen backend", () => {
    const c = loadConfig({
      ...base,
      XENFLEET_SIM_MEMORY: "512M",
      XENFLEET_HOST_TAGS: "ssd, rack-3",
      XENFLEET_HYPERVISOR: "xen",
    });
    expect(c).toMatchObject({
      XENFLEET_SIM_MEMORY: 512 * 2 ** 20,
      XENFLEET_HOST_TAGS: ["ssd", "rack-3"],
      XENFLEET_HYPERVISOR: "xen",
    });
  });

  it("names every bad variable and never echoes a value", () => {
    const bad = () =>
      loadConfig({
        ...base,
        XENFLEET_HOST: "Host:1",
        XENFLEET_REDIS: "http://user:s3cret@x",
        XENFLEET_SIM_MEMORY: "lots",
        XENFLEET_HYPERVISOR: "kvm",
      });
    expect(bad).toThrow(/XENFLEET_HOST.*XENFLEET_REDIS|XENFLEET_REDIS.*XENFLEET_HOST/);
    expect(bad).toThrow(/XENFLEET_SIM_MEMORY/);
    expect(bad).toThrow(/XENFLEET_HYPERVISOR/);
    expect(bad).not.toThrow(/s3cret/);
  });

  it("requires the host id and the store", () => {
    expect(() => loadConfig({})).toThrow(/XENFLEET_STORE/);
    expect(() => loadConfig({ XENFLEET_STORE: base.XENFLEET_STORE })).toThrow(/XENFLEET_HOST/);
  });
});

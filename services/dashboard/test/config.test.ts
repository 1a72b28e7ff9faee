import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";

const store = { XENFLEET_STORE: "file:///srv/store" };

describe("dashboard config", () => {
  it("needs a token, and binds 127.0.0.1 on port 8080 unless told otherwise", () => {
    expect(() => loadConfig(store)).toThrow(/XENFLEET_DASHBOARD_TOKEN/);
    expect(() => loadConfig({ ...store, XENFLEET_DASHBOARD_TOKEN: "short" })).toThrow(/at least 16/);
    expect(loadConfig({ ...store, XENFLEET_DASHBOARD_TOKEN: "0123456789abcdef" })).toMatchObject({
      XENFLEET_DASHBOARD_PORT: 8080,
      XENFLEET_DASHBOARD_BIND: "127.0.0.1",
    });
  });

  it("refuses a bind address that is not an IP address", () => {
    expect(() =>
      loadConfig({ ...store, XENFLEET_DASHBOARD_TOKEN: "0123456789abcdef", XENFLEET_DASHBOARD_BIND: "anywhere" }),
    ).toThrow(/XENFLEET_DASHBOARD_BIND/);
  });
});

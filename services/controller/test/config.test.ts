import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";

describe("controller config", () => {
  it("schedules retention and GC by default, and the nightly only when asked", () => {
    const c = loadConfig({ XENFLEET_STORE: "file:///srv/store" });
    expect(c).toMatchObject({
      XENFLEET_RETENTION_CRON: "30 3 * * *",
      XENFLEET_GC_CRON: "0 5 * * *",
      XENFLEET_HOST_SAVES: 2,
      XENFLEET_FLEET_SAVES: 16,
      XENFLEET_COMPRESS: true,
    });
    expect(c.XENFLEET_NIGHTLY_CRON).toBeUndefined();
    expect(
      loadConfig({
        XENFLEET_STORE: "file:///srv/store",
        XENFLEET_NIGHTLY_CRON: "0 2 * * *",
        XENFLEET_COMPRESS: "false",
      }),
    ).toMatchObject({
      XENFLEET_NIGHTLY_CRON: "0 2 * * *",
      XENFLEET_COMPRESS: false,
    });
  });

  it("refuses a cron pattern the scheduler would refuse, naming the variable and the pattern", () => {
    for (const [name, value] of [
      ["XENFLEET_NIGHTLY_CRON", "0 25 * * *"],
      ["XENFLEET_RETENTION_CRON", "every night"],
      ["XENFLEET_GC_CRON", "0 5 * *"],
    ])
      expect(() => loadConfig({ XENFLEET_STORE: "file:///srv/store", [name!]: value })).toThrow(
        `${name}: not a cron expression: "${value}"`,
      );
  });

  it("keeps GC's grace period long enough for a save in progress", () => {
    expect(() => loadConfig({ XENFLEET_STORE: "file:///srv/store", XENFLEET_GC_GRACE_SECONDS: "5" })).toThrow(
      /XENFLEET_GC_GRACE_SECONDS/,
    );
  });
});

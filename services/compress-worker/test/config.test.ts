import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";

describe("compress worker config", () => {
  it("needs no host: compress workers run anywhere", () => {
    expect(loadConfig({ XENFLEET_STORE: "file:///srv/store", AWS_REGION: "eu-west-1" })).toMatchObject({
      XENFLEET_CONCURRENCY: 1,
      AWS_REGION: "eu-west-1",
    });
  });

  it("refuses a concurrency that is not a positive count", () => {
    expect(() => loadConfig({ XENFLEET_STORE: "file:///srv/store", XENFLEET_CONCURRENCY: "0" })).toThrow(
      /XENFLEET_CONCURRENCY/,
    );
  });
});

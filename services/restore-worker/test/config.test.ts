import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";

describe("restore worker config", () => {
  it("takes the host's settings and refuses a store URL carrying credentials", () => {
    expect(
      loadConfig({
        XENFLEET_STORE: "s3://bucket/x?endpoint=http://minio:9000",
        XENFLEET_HOST: "h2",
        XENFLEET_SIM_DIR: "/srv/sim",
      }),
    ).toMatchObject({
      XENFLEET_HOST: "h2",
      XENFLEET_SIM_DIR: "/srv/sim",
    });
    expect(() => loadConfig({ XENFLEET_STORE: "s3://key:secret@bucket/x", XENFLEET_HOST: "h2" })).toThrow(
      /XENFLEET_STORE: store URL must not carry credentials/,
    );
  });
});

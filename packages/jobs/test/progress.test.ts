/** Job progress crosses processes like payloads do: versioned, checked when written, never misread. */
import { describe, expect, it } from "vitest";
import { jobProgress, parseProgress } from "../src/index.js";

const UUID = "11111111-2222-3333-4444-555555555555";

describe("job progress", () => {
  it("is written with its version and read back as written", () => {
    const written = jobProgress("evacuate", {
      evacuationId: "evac-1",
      total: 1,
      done: 0,
      failed: 0,
      domains: [
        {
          uuid: UUID,
          name: "vm1",
          source: "h1",
          target: "h2",
          state: "migrating",
          percent: 40,
          bytes: 40 * 2 ** 20,
          memoryBytes: 100 * 2 ** 20,
          attempts: 1,
        },
      ],
    });
    expect(written.v).toBe(1);
    expect(parseProgress("evacuate", JSON.parse(JSON.stringify(written)))).toEqual(written);
  });

  it("is refused when written with a shape its schema does not allow", () => {
    expect(() => jobProgress("migrate-send", { phase: "migrating", percent: 140 })).toThrow();
  });

  it("reads as nothing when absent, a bare number, another version or an unknown shape", () => {
    expect(parseProgress("restore", undefined)).toBeUndefined();
    expect(parseProgress("restore", 50)).toBeUndefined();
    expect(parseProgress("restore", { v: 2, phase: "building" })).toBeUndefined();
    expect(parseProgress("restore", { phase: "building" })).toBeUndefined();
    expect(parseProgress("restore", { v: 1, phase: "building", extra: true })).toBeUndefined();
    expect(parseProgress("restore", { v: 1, phase: "building" })).toEqual({ v: 1, phase: "building" });
  });

  it("of a scheduled batch keeps what the report needs", () => {
    const p = jobProgress("batch-save", {
      batchId: "nightly-1",
      total: 2,
      skipped: [{ host: "h3", domain: { uuid: UUID, name: "vm3" }, reason: "host h3 is down" }],
      duplicates: [],
    });
    expect(parseProgress("batch-save", p)?.skipped[0]?.reason).toBe("host h3 is down");
  });
});

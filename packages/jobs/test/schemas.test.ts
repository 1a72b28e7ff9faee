import { describe, expect, it } from "vitest";
import {
  InvalidJobError,
  JOB_SPECS,
  JOB_TYPES,
  jobData,
  jobResult,
  parseJob,
  parseJobByName,
  parseResult,
  queueOf,
  type JobType,
} from "../src/index.js";
import { IMAGE, UUID_A, UUID_B } from "./helpers.js";

const domain = { uuid: UUID_A, name: "web-1" };
const store = "main";

/** One valid payload (at its current version) per job type. */
const valid: { [T in JobType]: Record<string, unknown> } = {
  save: { v: 2, host: "h1", domain, store, mode: "checkpoint", labels: ["nightly"], compress: true },
  restore: { v: 2, host: "h2", store, image: IMAGE, paused: false, uuid: UUID_B },
  compress: { v: 2, store, image: IMAGE, algorithm: "zstd", level: 3 },
  "batch-save": {
    v: 3,
    batchId: "nightly-2024-05-01",
    store,
    mode: "suspend",
    labels: [],
    total: 2,
    hosts: ["h1", "h2"],
  },
  "migrate-send": { v: 2, migrationId: "m1", host: "h1", target: "h2", domain, mode: "live", compress: false },
  "migrate-recv": { v: 2, migrationId: "m1", host: "h2", source: "h1", domain },
  evacuate: { v: 2, evacuationId: "e1", hosts: ["h1", "h2"], limits: { perSource: 2, perTarget: 2, total: 8 } },
  retention: { v: 2, store, keep: { nightly: 7, weekly: 4 }, dryRun: false },
  gc: { v: 2, store, graceSeconds: 86_400, dryRun: true },
  "verify-run": { v: 1, runId: "verify", store, outdatedAfterSeconds: 30 * 86_400, subset: { n: 1, of: 7 } },
  "health-check": { v: 1, host: "h1", store, image: IMAGE, deadlineSeconds: 600 },
  verify: { v: 1, store, image: IMAGE, subset: { percent: 10 }, runId: "verify-1" },
};

const validResult: { [T in JobType]: Record<string, unknown> } = {
  save: { v: 2, imageId: IMAGE, bytesTotal: 10, bytesNew: 1, pausedMs: 0, seconds: 1 },
  restore: { v: 1, domain, bytesRestored: 10, seconds: 1 },
  compress: { v: 1, imageId: IMAGE, bytesIn: 10, bytesOut: 5, seconds: 1 },
  "batch-save": {
    v: 1,
    batchId: "b1",
    total: 1,
    succeeded: 1,
    failed: 0,
    bytesNew: 1,
    outcomes: [{ host: "h1", domain: UUID_A, imageId: IMAGE }],
  },
  "migrate-send": { v: 2, bytesSent: 10, iterations: 3, downtimeMs: 40, seconds: 2 },
  "migrate-recv": { v: 1, domain, bytesReceived: 10, seconds: 2 },
  evacuate: { v: 1, evacuationId: "e1", moved: 3, cold: 0, failed: [] },
  retention: { v: 1, kept: 7, dropped: 2 },
  gc: { v: 1, objectsDeleted: 4, bytesFreed: 400 },
  "verify-run": {
    v: 1,
    runId: "verify-1",
    images: 3,
    verified: 2,
    skippedRecent: 1,
    intact: 1,
    broken: [{ imageId: IMAGE, key: "packs/ab/cd", reason: "corrupt" }],
    failed: [],
    unverified: 0,
    brokenTotal: 1,
    startedAt: 1,
  },
  "health-check": {
    v: 1,
    imageId: IMAGE,
    passed: false,
    reason: "restore failed",
    digest: "not-recorded",
    seconds: 2,
    copy: domain,
  },
  verify: {
    v: 1,
    imageId: IMAGE,
    ok: false,
    bytes: 10,
    seconds: 1,
    problem: { key: "packs/ab/cd", reason: "missing" },
  },
};

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidJobError);
    expect((err as InvalidJobError).unrecoverable).toBe(true);
    return (err as Error).message;
  }
  throw new Error("expected InvalidJobError");
}

describe("job payloads", () => {
  it("covers every job type in the table", () => {
    expect(Object.keys(valid).sort()).toEqual([...JOB_TYPES].sort());
  });

  it.each(JOB_TYPES)("%s: accepts a valid payload and result", (type) => {
    expect(parseJob(type, valid[type])).toEqual(valid[type]);
    expect(parseResult(type, validResult[type])).toEqual(validResult[type]);
  });

  it.each(JOB_TYPES)("%s: refuses a newer version, naming it", (type) => {
    const reason = reasonOf(() => parseJob(type, { ...valid[type], v: JOB_SPECS[type].version + 1 }));
    expect(reason).toContain(`invalid ${type} job (v${JOB_SPECS[type].version + 1})`);
    expect(reason).toMatch(/newer than this worker understands/);
  });

  it.each(JOB_TYPES)("%s: refuses a newer result version", (type) => {
    const newer = JOB_SPECS[type].resultVersion + 1;
    expect(reasonOf(() => parseResult(type, { ...validResult[type], v: newer }))).toMatch(
      new RegExp(`result version ${newer} is newer`),
    );
  });

  it.each(JOB_TYPES)("%s: refuses an unknown field rather than dropping it", (type) => {
    expect(reasonOf(() => parseJob(type, { ...valid[type], surprise: 1 }))).toMatch(/surprise/);
  });

  it.each([
    ["missing version", { ...valid.save, v: undefined }, /no valid version field/],
    ["version as string", { ...valid.save, v: "1" }, /no valid version field/],
    ["version zero", { ...valid.save, v: 0 }, /no valid version field/],
    ["not an object", "save everything", /no valid version field/],
    ["null", null, /no valid version field/],
    ["bad domain uuid", { ...valid.save, domain: { uuid: "nope", name: "x" } }, /domain\.uuid/],
    ["control char in name", { ...valid.save, domain: { uuid: UUID_B, name: "a\nb" } }, /domain\.name/],
    ["oversized name", { ...valid.save, domain: { uuid: UUID_B, name: "n".repeat(129) } }, /domain\.name/],
    ["host with key separator", { ...valid.save, host: "h1:wait" }, /host/],
    ["host with hash tag", { ...valid.save, host: "{h1}" }, /host/],
    ["upper-case host", { ...valid.save, host: "H1" }, /host/],
    ["unknown mode", { ...valid.save, mode: "hibernate" }, /mode/],
    ["store given as a URL", { ...valid.save, store: "s3://bucket/x" }, /store must be a store name/],
    ["store given as a path", { ...valid.save, store: "/var/lib/images" }, /store must be a store name/],
    ["upper-case store name", { ...valid.save, store: "Main" }, /store must be a store name/],
    ["too many labels", { ...valid.save, labels: Array(17).fill("a") }, /labels/],
    ["page data smuggled in", { ...valid.save, pages: "AAAA" }, /pages/],
  ])("save: refuses %s", (_name, data, why) => {
    const reason = reasonOf(() => parseJob("save", data));
    expect(reason).toMatch(/^invalid save job/);
    expect(reason).toMatch(why);
  });

  it.each([
    ["restore", { ...valid.restore, image: "ABC" }, /image/],
    ["compress", { ...valid.compress, level: 99 }, /level/],
    ["batch-save", { ...valid["batch-save"], batchId: "has space" }, /batchId/],
    ["migrate-send", { ...valid["migrate-send"], target: "" }, /target/],
    ["evacuate", { ...valid.evacuate, hosts: [] }, /hosts/],
    ["retention", { ...valid.retention, keep: { nightly: -1, weekly: 0 } }, /keep\.nightly/],
    ["gc", { ...valid.gc, graceSeconds: 1 }, /graceSeconds/],
    ["verify-run", { ...valid["verify-run"], subset: { n: 8, of: 7 } }, /subset/],
    ["verify", { ...valid.verify, store: "s3://bucket/x" }, /store/],
  ] as const)("%s: refuses a malformed payload", (type, data, why) => {
    expect(reasonOf(() => parseJob(type, data))).toMatch(why);
  });

  it("never echoes the offending value in the reason", () => {
    const reason = reasonOf(() => parseJob("save", { ...valid.save, store: "s3://key:hunter2@bucket/x" }));
    expect(reason).not.toContain("hunter2");
    const old = reasonOf(() => parseJob("save", { ...valid.save, v: 1, store: "s3://key:hunter2@bucket/x" }));
    expect(old).toMatch(/credentials/);
    expect(old).not.toContain("hunter2");
  });

  it("batch-save: reads a v1 payload (written before the hosts filter) as v3 for every host", () => {
    const v1: Record<string, unknown> = { ...valid["batch-save"], v: 1 };
    delete v1.hosts;
    expect(parseJob("batch-save", v1)).toEqual({ ...v1, v: 3 });
    expect(parseJob("batch-save", { ...valid["batch-save"], v: 2 })).toEqual(valid["batch-save"]);
    // v1 never had the filter: a v1 payload carrying one is malformed, not silently widened.
    expect(reasonOf(() => parseJob("batch-save", { ...v1, hosts: ["h1"] }))).toMatch(
      /invalid batch-save job \(v1\).*hosts/,
    );
    expect(reasonOf(() => parseJob("batch-save", { ...valid["batch-save"], hosts: [] }))).toMatch(/hosts/);
  });

  it("restore: reads a v1 payload (written before copies had a uuid of their own) as v2 keeping the image's", () => {
    const { uuid: _uuid, ...v2 } = valid.restore;
    const v1 = { ...v2, v: 1 };
    expect(parseJob("restore", v1)).toEqual({ ...v1, v: 2 });
    expect(reasonOf(() => parseJob("restore", { ...v1, uuid: UUID_B }))).toMatch(/invalid restore job \(v1\).*uuid/);
  });

  it("save and migrate-send: a pause or downtime that was not measured is left out; v1 results still read", () => {
    const { pausedMs: _p, ...unpaused } = validResult.save;
    expect(parseResult("save", unpaused)).toEqual(unpaused);
    const { downtimeMs: _d, ...unmeasured } = validResult["migrate-send"];
    expect(parseResult("migrate-send", unmeasured)).toEqual(unmeasured);
    // Results of jobs finished before the upgrade always had them.
    expect(parseResult("save", { ...validResult.save, v: 1 })).toEqual(validResult.save);
    expect(reasonOf(() => parseResult("save", { ...unpaused, v: 1 }))).toMatch(/pausedMs/);
    expect(parseResult("migrate-send", { ...validResult["migrate-send"], v: 1 })).toEqual(validResult["migrate-send"]);
  });

  describe("payloads written before stores had names", () => {
    /** Restore v1 had no uuid field. */
    const withoutUuid = ({ uuid: _uuid, ...rest }: Record<string, unknown>) => rest;
    /** Each type's previous version, naming its store by `ref`. */
    const old = (ref: string): Array<[JobType, Record<string, unknown>, string]> => [
      ["save", { ...valid.save, v: 1, store: ref }, "store"],
      ["restore", { ...withoutUuid(valid.restore), v: 1, store: ref }, "store"],
      ["compress", { ...valid.compress, v: 1, store: ref }, "store"],
      ["batch-save", { ...valid["batch-save"], v: 2, store: ref }, "store"],
      ["migrate-send", { ...valid["migrate-send"], v: 1, mode: "cold", store: ref }, "store"],
      ["migrate-recv", { ...valid["migrate-recv"], v: 1, mode: "cold", store: ref }, "store"],
      ["evacuate", { ...valid.evacuate, v: 1, cold: true, coldVia: ref }, "coldVia"],
      ["retention", { ...valid.retention, v: 1, store: ref }, "store"],
      ["gc", { ...valid.gc, v: 1, store: ref }, "store"],
    ];
    const url = "s3://images/fleet?endpoint=http://10.0.0.5:9000";
    /** A reader whose one store, "main", is at `url`. */
    const worker = {
      storeName(ref: string): string {
        if (ref === "main" || ref === url) return "main";
        throw new Error(`store ${ref} is not configured`);
      },
    };

    it("covers every job type that names a store and had a version before stores had names", () => {
      // Job types born after stores had names (verify, verify-run) never carried a URL.
      const named = JOB_TYPES.filter(
        (t) => ("store" in valid[t] || t.startsWith("migrate") || t === "evacuate") && "previous" in JOB_SPECS[t],
      );
      expect(
        old(url)
          .map(([t]) => t)
          .sort(),
      ).toEqual(named.sort());
    });

    it.each(old(url))(
      "%s: an old payload's URL becomes the name of the configured store it equals",
      (type, data, field) => {
        const parsed = parseJob(type, data, worker) as Record<string, unknown>;
        expect(parsed.v).toBe(JOB_SPECS[type].version);
        expect(parsed[field]).toBe("main");
      },
    );

    it.each(old("main"))(
      "%s: an old payload naming its store is read without a worker's stores",
      (type, data, field) => {
        expect((parseJob(type, data) as Record<string, unknown>)[field]).toBe("main");
      },
    );

    it.each(old(url))("%s: an old payload's URL is refused by a reader that has no stores", (type, data) => {
      expect(reasonOf(() => parseJob(type, data))).toMatch(/names its store by URL/);
    });

    it.each(old("s3://loot?endpoint=http://127.0.0.1:9"))(
      "%s: an old payload's URL of another store is refused",
      (type, data) => {
        expect(() => parseJob(type, data, worker)).toThrow(/not configured/);
      },
    );
  });

  it("refuses an unknown job name", () => {
    expect(reasonOf(() => parseJobByName("defrag", { v: 1 }))).toMatch(/unknown job type/);
  });

  it("jobData stamps the current version and checks the fields", () => {
    const { v: _v, ...fields } = valid.gc;
    expect(jobData("gc", fields as never)).toEqual(valid.gc);
    expect(() => jobData("gc", { ...fields, graceSeconds: -5 } as never)).toThrow(InvalidJobError);
    expect(() => jobResult("save", { imageId: "x" } as never)).toThrow(/imageId/);
  });

  it("routes host-bound jobs to their host's queue and the rest to shared queues", () => {
    expect(queueOf("save", parseJob("save", valid.save))).toBe("save@h1");
    expect(queueOf("migrate-recv", parseJob("migrate-recv", valid["migrate-recv"]))).toBe("migrate-recv@h2");
    expect(queueOf("compress", parseJob("compress", valid.compress))).toBe("compress");
    expect(queueOf("gc", parseJob("gc", valid.gc))).toBe("controller");
  });
});

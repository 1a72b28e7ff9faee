/**
 * Job payloads are read from Redis, where anything may have written them.
 * Hostile JSON (deep nesting, huge strings, wrong types, prototype-pollution
 * keys, valid payloads with one field swapped for junk) must come out of
 * parseJob / parseJobByName / parseResult as a typed payload or an
 * InvalidJobError with a bounded message: never another exception, never a
 * polluted prototype, never an echo of a huge input. FUZZ_RUNS sets the count.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidJobError, JOB_TYPES, parseJob, parseJobByName, parseResult, type JobType } from "../src/index.js";
import { IMAGE, UUID_A } from "./helpers.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const CORPUS = join(dirname(fileURLToPath(import.meta.url)), "corpus", "payloads");

const domain = { uuid: UUID_A, name: "web-1" };
const store = "main";
const valid: { [T in JobType]: Record<string, unknown> } = {
  save: { v: 2, host: "h1", domain, store, mode: "checkpoint", labels: ["nightly"], compress: true },
  restore: { v: 2, host: "h2", store, image: IMAGE, paused: false },
  compress: { v: 2, store, image: IMAGE, algorithm: "zstd", level: 3 },
  "batch-save": { v: 3, batchId: "nightly-2024-05-01", store, mode: "suspend", labels: [], total: 2, hosts: ["h1"] },
  "migrate-send": { v: 2, migrationId: "m1", host: "h1", target: "h2", domain, mode: "live", compress: false },
  "migrate-recv": { v: 2, migrationId: "m1", host: "h2", source: "h1", domain },
  evacuate: { v: 2, evacuationId: "e1", hosts: ["h1", "h2"], limits: { perSource: 2, perTarget: 2, total: 8 } },
  retention: { v: 2, store, keep: { nightly: 7, weekly: 4 }, dryRun: false },
  gc: { v: 2, store, graceSeconds: 86_400, dryRun: true },
  "verify-run": { v: 1, runId: "verify", store, outdatedAfterSeconds: 86_400, subset: { n: 1, of: 7 } },
  "health-check": { v: 1, host: "h1", store, image: IMAGE, deadlineSeconds: 600 },
  verify: { v: 1, store, image: IMAGE, subset: { percent: 10 } },
};

/** Nested arrays or objects `depth` deep, built without recursion (as a hostile producer would send). */
function deep(depth: number, kind: "array" | "object"): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === "array" ? [value] : { a: value };
  return value;
}

const POLLUTING_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "__defineGetter__",
  "hasOwnProperty",
  "toString",
  "valueOf",
];

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom(
    null,
    true,
    0,
    -1,
    1.5,
    2 ** 53,
    -(2 ** 53),
    1e308,
    "",
    "1",
    "v",
    [],
    {},
    Number.MAX_SAFE_INTEGER + 2,
  ),
  fc.nat({ max: 5000 }).map((n) => deep(n, "array")),
  fc.nat({ max: 5000 }).map((n) => deep(n, "object")),
  fc.integer({ min: 1, max: 3_000_000 }).map((n) => "x".repeat(n)),
  fc.integer({ min: 1, max: 100_000 }).map((n) => Array.from({ length: n }, () => "h1")),
  fc.dictionary(fc.constantFrom(...POLLUTING_KEYS), fc.jsonValue({ maxDepth: 2 })),
);

/** A JSON object text with a polluting key set the way JSON.parse sets it (an own property). */
const pollutedText = fc
  .tuple(fc.constantFrom(...JOB_TYPES), fc.constantFrom(...POLLUTING_KEYS), fc.jsonValue({ maxDepth: 2 }))
  .map(([type, key, value]) => {
    const fields = JSON.stringify(valid[type]).slice(1, -1);
    return { type, text: `{${JSON.stringify(key)}:${JSON.stringify(value)},${fields}}` };
  });

/** Runs every parser on `data`; only payloads or InvalidJobErrors may come out. */
function parseEverywhere(type: JobType, data: unknown): void {
  for (const parse of [() => parseJob(type, data), () => parseJobByName(type, data), () => parseResult(type, data)]) {
    try {
      const parsed = parse() as Record<string, unknown>;
      // What parses is a plain object with exactly the prototype of one.
      expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    } catch (error) {
      if (!(error instanceof InvalidJobError)) throw error;
      // The reason is about the shape, never the (possibly huge, possibly secret) values.
      expect(error.message.length).toBeLessThan(4096);
    }
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.hasOwn(Object.prototype, "polluted")).toBe(false);
}

describe("job payload fuzz", () => {
  it.each(readdirSync(CORPUS).sort())("corpus %s", (name) => {
    const { type, text } = JSON.parse(readFileSync(join(CORPUS, name), "utf8")) as { type: JobType; text: string };
    parseEverywhere(type, JSON.parse(text));
  });

  it(`anything at all, as job data (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.constantFrom(...JOB_TYPES), junk, (type, data) => parseEverywhere(type, data)),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20240604) },
    );
  });

  it(`a valid payload with one field replaced by junk, or one junk field added (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.constantFrom(...JOB_TYPES), fc.nat(), junk, fc.boolean(), (type, pick, value, add) => {
        const payload: Record<string, unknown> = { ...valid[type] };
        const keys = Object.keys(payload);
        const key = add ? `extra${pick % 3}` : keys[pick % keys.length]!;
        payload[key] = value;
        parseEverywhere(type, payload);
        // Through JSON as Redis carries it, too.
        let text: string | undefined;
        try {
          text = JSON.stringify(payload);
        } catch {
          return; // too deep to stringify: no producer could have sent it
        }
        parseEverywhere(type, JSON.parse(text));
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20240605) },
    );
  });

  it(`prototype-pollution keys as own properties are refused and pollute nothing (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(pollutedText, ({ type, text }) => {
        const data = JSON.parse(text) as unknown;
        parseEverywhere(type, data);
        expect(() => parseJob(type, data)).toThrow(InvalidJobError);
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20240606) },
    );
  });

  it("the valid payloads parse (the fuzz starts from real shapes)", () => {
    for (const type of JOB_TYPES) expect(parseJob(type, valid[type])).toEqual(valid[type]);
  });
});

describe("InvalidJobError messages (regression: a junk version field was echoed whole)", () => {
  it("a huge or non-numeric version is described by its type, not repeated", () => {
    for (const v of [
      "x".repeat(1_000_000),
      Array.from({ length: 100_000 }, () => "h1"),
      { secret: "hunter2" },
      null,
      "2",
    ]) {
      const error = (() => {
        try {
          parseJob("save", { ...valid.save, v });
        } catch (e) {
          return e as InvalidJobError;
        }
      })();
      expect(error).toBeInstanceOf(InvalidJobError);
      expect(error!.message.length).toBeLessThan(300);
      expect(error!.message).not.toContain("hunter2");
      expect(error!.message).not.toContain("xxxx");
    }
  });
});

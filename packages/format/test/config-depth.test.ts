/**
 * Regression: a JSON domain config nested thousands deep was accepted. V8
 * parses it, but the next thing that walks it (JSON.stringify when a restore
 * writes the config back, a schema check, a logger) overflows the stack with
 * a RangeError instead of a FormatError.
 */
import { describe, expect, it } from "vitest";
import { StreamError, encodeXlHeader } from "../src/index.js";
import { MAX_CONFIG_DEPTH, jsonDepth } from "../src/xl-header.js";
import { decodeChunked, sampleBytes } from "./helpers.js";

const sample = Buffer.from(
  await sampleBytes({ layers: "xl", domainType: "x86-pv", libxcVersion: 3, pages: 1, vcpus: 1 }),
);
/** The sample's libxl stream, after its xl header and config. */
const afterHeader = sample.subarray(48 + sample.readUInt32LE(44));

/** A little-endian xl header carrying `json` as its (JSON-flagged) domain config, then the sample's stream. */
function withConfig(json: string): Buffer {
  const fixed = Buffer.from(Buffer.from(encodeXlHeader({ byteOrder: "little", config: 0 })).subarray(0, 48));
  const config = Buffer.from(json + "\0");
  fixed.writeUInt32LE(4 + config.length, 44);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(config.length);
  return Buffer.concat([fixed, length, config, afterHeader]);
}

describe("domain config depth (regression: unbounded JSON nesting)", () => {
  it("refuses a config nested deeper than the limit with a StreamError, not a stack overflow", () => {
    for (const json of [
      "[".repeat(100_000) + "]".repeat(100_000),
      `{"a":${"[".repeat(MAX_CONFIG_DEPTH)}${"]".repeat(MAX_CONFIG_DEPTH)}}`,
    ]) {
      const error = (() => {
        try {
          decodeChunked(withConfig(json), [4096]);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(StreamError);
      expect((error as StreamError).reason).toBe("bad-config");
      expect((error as StreamError).expected).toContain(`at most ${MAX_CONFIG_DEPTH} deep`);
    }
  });

  it("accepts a config exactly at the limit, and brackets inside strings do not count", () => {
    const atLimit = "[".repeat(MAX_CONFIG_DEPTH) + "]".repeat(MAX_CONFIG_DEPTH);
    const events = decodeChunked(withConfig(atLimit));
    const header = events.find((e) => e.kind === "xl-header");
    expect(JSON.stringify((header as { config?: unknown }).config)).toBe(atLimit);
    const quoted = JSON.stringify({ name: "[".repeat(1000) + '\\"{' });
    expect(jsonDepth(quoted, MAX_CONFIG_DEPTH)).toBe(1);
    expect(() => decodeChunked(withConfig(quoted))).not.toThrow();
  });
});

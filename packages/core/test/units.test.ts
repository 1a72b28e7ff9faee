import { describe, expect, it } from "vitest";
import { InvalidSizeError, parseSize } from "../src/index.js";

describe("parseSize", () => {
  const MiB = 2 ** 20;
  it.each([
    ["4096", 4096],
    ["16M", 16 * MiB],
    ["16m", 16 * MiB],
    ["256MiB", 256 * MiB],
    ["1G", 1024 * MiB],
    ["1GiB", 1024 * MiB],
    ["2GB", 2048 * MiB],
    ["64K", 64 * 1024],
    ["1.5G", 1536 * MiB],
  ])("%s is %d bytes", (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });
  it.each(["", "M", "12X", "-1M", "1e9", "abc"])("refuses %j", (input) => {
    expect(() => parseSize(input)).toThrow(InvalidSizeError);
  });
});

import { describe, expect, it } from "vitest";
import { settleAll } from "../src/settle.js";

describe("settleAll", () => {
  it("returns the values in order", async () => {
    expect(
      await settleAll([Promise.resolve(1), new Promise((r) => setTimeout(() => r(2), 5)), Promise.resolve(3)]),
    ).toEqual([1, 2, 3]);
  });

  it("throws the first failure only once every promise has settled (a failed import never leaves puts running)", async () => {
    let slowDone = false;
    const slow = new Promise<void>((r) => setTimeout(r, 30)).then(() => void (slowDone = true));
    const failed = Promise.reject(new Error("first"));
    const later = new Promise<void>((_, reject) => setTimeout(() => reject(new Error("second")), 10));
    await expect(settleAll([failed, slow, later])).rejects.toThrow("first");
    expect(slowDone).toBe(true);
  });
});

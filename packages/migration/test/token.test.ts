import { describe, expect, it } from "vitest";
import { TokenRejectedError } from "../src/errors.js";
import { OneTimeToken } from "../src/token.js";

function reason(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TokenRejectedError);
    return (err as TokenRejectedError).reason;
  }
  return "accepted";
}

describe("one-time token", () => {
  it("is accepted once, then refused as used", () => {
    const t = new OneTimeToken(1000, () => 0);
    expect(reason(() => t.redeem(t.value))).toBe("accepted");
    expect(reason(() => t.redeem(t.value))).toBe("used");
  });

  it("refuses a wrong, missing or non-string token without spending it", () => {
    const t = new OneTimeToken(1000, () => 0);
    expect(reason(() => t.redeem("nope"))).toBe("unknown");
    expect(reason(() => t.redeem(t.value.slice(1)))).toBe("unknown");
    expect(reason(() => t.redeem(undefined))).toBe("unknown");
    expect(reason(() => t.redeem(42))).toBe("unknown");
    expect(t.used).toBe(false);
    expect(reason(() => t.redeem(t.value))).toBe("accepted");
  });

  it("expires", () => {
    let now = 0;
    const t = new OneTimeToken(1000, () => now);
    now = 999;
    const early = new OneTimeToken(1000, () => now, t.value);
    now = 1000;
    expect(reason(() => t.redeem(t.value))).toBe("expired");
    expect(reason(() => early.redeem(t.value))).toBe("accepted");
  });

  it("issues distinct unguessable values", () => {
    const a = new OneTimeToken(1000);
    const b = new OneTimeToken(1000);
    expect(a.value).not.toBe(b.value);
    expect(Buffer.from(a.value, "base64url").length).toBe(32);
  });
});

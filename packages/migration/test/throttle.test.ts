import { describe, expect, it } from "vitest";
import { parseRate, TokenBucket, type Clock } from "../src/throttle.js";

/** A clock that only moves when someone sleeps: the bucket's arithmetic, without wall time. */
function fakeClock(): Clock & { t: number; slept: number[] } {
  const c = {
    t: 0,
    slept: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.slept.push(ms);
      c.t += ms;
    },
  };
  return c;
}

describe("token bucket", () => {
  it("lets the burst through at once, then paces at the rate", async () => {
    const clock = fakeClock();
    const b = new TokenBucket({ rate: 1000, burst: 500, clock });
    await b.take(500);
    expect(clock.t).toBe(0);
    await b.take(250);
    expect(clock.t).toBeCloseTo(250);
    for (let i = 0; i < 10; i++) await b.take(100);
    // 1000 bytes after the burst at 1000 B/s: one more second.
    expect(clock.t).toBeCloseTo(1250);
  });

  it("refills while idle, up to the burst only", async () => {
    const clock = fakeClock();
    const b = new TokenBucket({ rate: 1000, burst: 500, clock });
    await b.take(500);
    clock.t += 10_000;
    expect(b.delayFor(500)).toBe(0);
    expect(b.delayFor(501)).toBe(0); // larger than the burst: waits for a full bucket only
    await b.take(500);
    expect(b.delayFor(100)).toBeCloseTo(100);
  });

  it("serves concurrent takers in order at the shared rate", async () => {
    const clock = fakeClock();
    const b = new TokenBucket({ rate: 100, burst: 100, clock });
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((i) => b.take(100).then(() => order.push(i))));
    expect(order).toEqual([1, 2, 3]);
    expect(clock.t).toBeCloseTo(2000);
  });

  it("serves the lowest priority first, so the oldest migration gets the link", async () => {
    const clock = fakeClock();
    const b = new TokenBucket({ rate: 100, burst: 100, maxWaitMs: 60_000, clock });
    await b.take(100); // empty the bucket: everyone below waits
    const order: string[] = [];
    await Promise.all([
      b.take(100, undefined, 3).then(() => order.push("young")),
      b.take(100, undefined, 1).then(() => order.push("old")),
      b.take(100, undefined, -Infinity).then(() => order.push("paused")),
    ]);
    expect(order).toEqual(["paused", "old", "young"]);
  });

  it("serves a take that waited maxWaitMs before higher priorities", async () => {
    const clock = fakeClock();
    const b = new TokenBucket({ rate: 100, burst: 100, maxWaitMs: 2500, clock });
    await b.take(100);
    const order: string[] = [];
    const low = b.take(100, undefined, 9).then(() => order.push("low"));
    // A stream of high-priority takes, each queued as soon as the previous one is served.
    const high = (async () => {
      for (let i = 0; i < 4; i++) {
        await b.take(100, undefined, 0);
        order.push("high");
      }
    })();
    await Promise.all([low, high]);
    // Tokens come once a second: the third second's go to "low", which has waited past maxWaitMs by then.
    expect(order).toEqual(["high", "high", "low", "high", "high"]);
  });

  it("drops a waiting take whose signal aborts", async () => {
    const clock = fakeClock();
    const b = new TokenBucket({ rate: 100, burst: 100, clock });
    await b.take(100);
    const ac = new AbortController();
    const aborted = b.take(100, ac.signal);
    ac.abort(new Error("stop"));
    await expect(aborted).rejects.toThrow("stop");
    await b.take(100);
    expect(clock.t).toBeCloseTo(1000);
  });

  it("refuses a non-positive rate and parses rate strings", () => {
    expect(() => new TokenBucket({ rate: 0 })).toThrow(RangeError);
    expect(parseRate("100M")).toBe(100 * 2 ** 20);
    expect(parseRate("1.5G")).toBe(1.5 * 2 ** 30);
    expect(parseRate("512KiB/s")).toBe(512 * 1024);
    expect(() => parseRate("fast")).toThrow(RangeError);
  });
});

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deletePrefix, REDIS_URL, testPrefix } from "@xenfleet/jobs/testing";
import { createRedis, type RedisClient } from "@xenfleet/jobs";
import { acquireSaveSlot, activeSaveSlots, getLimits, setLimits, DEFAULT_LIMITS } from "../src/index.js";

describe("fleet-wide save slots", () => {
  let redis: RedisClient;
  let prefix: string;

  beforeEach(() => {
    redis = createRedis(REDIS_URL, "producer", "fleet-test");
    prefix = testPrefix();
  });

  afterEach(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it("uses the defaults until the controller publishes limits", async () => {
    expect(await getLimits(redis, prefix)).toEqual(DEFAULT_LIMITS);
    await setLimits(redis, prefix, { hostSaves: 3, fleetSaves: 5 });
    expect(await getLimits(redis, prefix)).toEqual({ hostSaves: 3, fleetSaves: 5 });
  });

  it("holds a save back while the fleet-wide limit is reached, and lets it go when a slot frees", async () => {
    await setLimits(redis, prefix, { hostSaves: 1, fleetSaves: 2 });
    const signal = new AbortController().signal;
    const a = await acquireSaveSlot(redis, prefix, "a", signal);
    const b = await acquireSaveSlot(redis, prefix, "b", signal);
    let got = false;
    const c = acquireSaveSlot(redis, prefix, "c", signal).then((slot) => ((got = true), slot));
    // Several polls go by: c stays waiting while two saves hold the slots.
    await new Promise((r) => setTimeout(r, 1200));
    expect(got).toBe(false);
    expect(await activeSaveSlots(redis, prefix)).toBe(2);
    await a.release();
    const slotC = await c;
    expect(await activeSaveSlots(redis, prefix)).toBe(2);
    await b.release();
    await slotC.release();
    expect(await activeSaveSlots(redis, prefix)).toBe(0);
  });

  it("gives up waiting when the job is aborted", async () => {
    await setLimits(redis, prefix, { hostSaves: 1, fleetSaves: 1 });
    const held = await acquireSaveSlot(redis, prefix, "a", new AbortController().signal);
    const abort = new AbortController();
    const waiting = acquireSaveSlot(redis, prefix, "b", abort.signal);
    abort.abort(new Error("shutdown"));
    await expect(waiting).rejects.toThrow(/shutdown/);
    await held.release();
  });

  it("treats 0 as no limit", async () => {
    await setLimits(redis, prefix, { hostSaves: 1, fleetSaves: 0 });
    const signal = new AbortController().signal;
    const slots = await Promise.all(["a", "b", "c", "d"].map((h) => acquireSaveSlot(redis, prefix, h, signal)));
    expect(await activeSaveSlots(redis, prefix)).toBe(4);
    await Promise.all(slots.map((s) => s.release()));
  });
});

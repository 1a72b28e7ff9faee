import { describe, expect, it } from "vitest";
import { assertHostId, bullPrefix, hostOfQueue, hostQueue, InvalidHostIdError, keys } from "../src/index.js";

describe("names", () => {
  it("builds host queues and reads the host back", () => {
    expect(hostQueue("save", "xen-01.rack3")).toBe("save@xen-01.rack3");
    expect(hostOfQueue("migrate-recv@h2")).toBe("h2");
    expect(hostOfQueue("compress")).toBeUndefined();
  });

  it.each(["", "A", "h:1", "h@1", "{h}", "h 1", "h*", "h?", "-h", "h\n", "x".repeat(64), "h/1"])(
    "refuses host id %j",
    (host) => {
      expect(() => assertHostId(host)).toThrow(InvalidHostIdError);
      expect(() => hostQueue("save", host)).toThrow(InvalidHostIdError);
      expect(() => keys.alive("xenfleet", host)).toThrow(InvalidHostIdError);
    },
  );

  it("puts every key of a prefix inside one hash tag", () => {
    expect(bullPrefix("xenfleet")).toBe("{xenfleet}");
    const all = [
      keys.hosts("p1"),
      keys.host("p1", "h1"),
      keys.alive("p1", "h1"),
      keys.draining("p1"),
      keys.migration("p1", "m-1"),
    ];
    for (const k of all) {
      expect(k.startsWith("{p1}:")).toBe(true);
      // Only the first {...} counts for Redis Cluster; there must be no other.
      expect(k.slice(1).includes("{")).toBe(false);
    }
    expect(new Set(all).size).toBe(all.length);
  });

  it("refuses prefixes and ids that would change key structure", () => {
    expect(() => bullPrefix("a}b")).toThrow(/prefix/);
    expect(() => bullPrefix("a:b")).toThrow(/prefix/);
    expect(() => keys.migration("p", "m:1")).toThrow(/invalid id/);
  });
});

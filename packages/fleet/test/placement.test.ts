import { describe, expect, it } from "vitest";
import { type PlanDomain, type PlanHost, planPlacement, type PlanInput } from "../src/placement.js";

const MiB = 2 ** 20;
const host = (id: string, freeMiB: number, extra: Partial<PlanHost> = {}): PlanHost => ({
  id,
  state: "up",
  memoryFree: freeMiB * MiB,
  tags: [],
  domains: [],
  ...extra,
});
const dom = (uuid: string, memMiB: number, source = "a", extra: Partial<PlanDomain> = {}): PlanDomain => ({
  uuid,
  name: uuid,
  memory: memMiB * MiB,
  source,
  ...extra,
});

interface Case {
  name: string;
  input: PlanInput;
  placed: Record<string, string>;
  unplaced: Record<string, RegExp>;
}

const cases: Case[] = [
  {
    name: "spreads domains over the hosts with most room, largest first",
    input: {
      hosts: [host("a", 0), host("b", 100), host("c", 80)],
      evacuating: ["a"],
      domains: [dom("d1", 30), dom("d2", 60), dom("d3", 30)],
    },
    placed: { d2: "b", d1: "c", d3: "c" },
    unplaced: {},
  },
  {
    name: "capacity short: what does not fit is reported with the largest free space",
    input: { hosts: [host("a", 0), host("b", 64)], evacuating: ["a"], domains: [dom("d1", 48), dom("d2", 48)] },
    placed: { d1: "b" },
    unplaced: { d2: /lack memory \(needs 48 MiB, largest free 16 MiB\)/ },
  },
  {
    name: "never a down or draining host, nor one being evacuated",
    input: {
      hosts: [
        host("a", 0),
        host("b", 1000),
        host("c", 1000, { state: "down" }),
        host("d", 1000, { state: "draining" }),
        host("e", 10),
      ],
      evacuating: ["a", "b"],
      domains: [dom("d1", 8), dom("d2", 8, "b")],
    },
    placed: { d1: "e" },
    unplaced: { d2: /lack memory/ },
  },
  {
    name: "nothing up outside the evacuation",
    input: { hosts: [host("a", 0), host("b", 100, { state: "down" })], evacuating: ["a"], domains: [dom("d1", 8)] },
    placed: {},
    unplaced: { d1: /no host is up/ },
  },
  {
    name: "anti-affinity: group members land on different hosts, existing members count",
    input: {
      hosts: [host("a", 0), host("b", 100, { domains: ["x"] }), host("c", 100), host("d", 100)],
      evacuating: ["a"],
      groups: new Map([["x", "db"]]),
      domains: [
        dom("d1", 10, "a", { antiAffinity: "db" }),
        dom("d2", 10, "a", { antiAffinity: "db" }),
        dom("d3", 10, "a", { antiAffinity: "db" }),
      ],
    },
    placed: { d1: "c", d2: "d" },
    unplaced: { d3: /anti-affinity group db/ },
  },
  {
    name: "required tags",
    input: {
      hosts: [host("a", 0), host("b", 100), host("c", 10, { tags: ["ssd"] })],
      evacuating: ["a"],
      domains: [dom("d1", 8, "a", { requireTags: ["ssd"] }), dom("d2", 8, "a", { requireTags: ["gpu"] })],
    },
    placed: { d1: "c" },
    unplaced: { d2: /lack tag\(s\) gpu/ },
  },
  {
    name: "excluded targets (a failed attempt) are skipped, reserve is kept",
    input: {
      hosts: [host("a", 0), host("b", 100), host("c", 20)],
      evacuating: ["a"],
      reserveBytes: 4 * MiB,
      exclude: new Map([["d1", new Set(["b"])]]),
      domains: [dom("d1", 16), dom("d2", 17)],
    },
    placed: { d1: "c", d2: "b" },
    unplaced: {},
  },
];

describe("placement planner", () => {
  for (const c of cases) {
    it(c.name, () => {
      const plan = planPlacement(c.input);
      expect(Object.fromEntries(plan.placements.map((p) => [p.domain.uuid, p.target]))).toEqual(c.placed);
      expect(plan.unplaced.map((u) => u.domain.uuid).sort()).toEqual(Object.keys(c.unplaced).sort());
      for (const u of plan.unplaced) expect(u.reason).toMatch(c.unplaced[u.domain.uuid]!);
      // Every domain is either placed or explained, exactly once.
      expect(plan.placements.length + plan.unplaced.length).toBe(c.input.domains.length);
    });
  }

  it("never overfills a host", () => {
    const hosts = [host("a", 0), host("b", 100), host("c", 100)];
    const domains = Array.from({ length: 30 }, (_, i) => dom(`d${String(i).padStart(2, "0")}`, 5 + (i % 7) * 3));
    const plan = planPlacement({ hosts, evacuating: ["a"], domains });
    for (const h of ["b", "c"]) {
      const used = plan.placements.filter((p) => p.target === h).reduce((s, p) => s + p.domain.memory, 0);
      expect(used).toBeLessThanOrEqual(100 * MiB);
    }
    expect(plan.unplaced.length).toBeGreaterThan(0);
  });
});

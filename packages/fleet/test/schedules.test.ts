import { describe, expect, it } from "vitest";
import { checkCron, cronSchema, InvalidCronError } from "../src/index.js";

describe("checkCron", () => {
  it.each(["0 2 * * *", "*/15 * * * *", "* * * * * *", "30 3 * * 1-5", "@daily"])("accepts %s", (expr) => {
    expect(() => checkCron(expr)).not.toThrow();
  });

  it.each([
    ["0 25 * * *", /expected range 0-23/],
    ["0 2 * *", /4 fields/],
    ["every night", /2 fields/],
    ["", /field/],
    ["61 * * * *", /expected range 0-59/],
  ])("refuses %j, naming the expression", (expr, detail) => {
    const thrown = (() => {
      try {
        checkCron(expr);
      } catch (err) {
        return err;
      }
    })();
    expect(thrown).toBeInstanceOf(InvalidCronError);
    expect((thrown as Error).message).toContain(`not a cron expression: ${JSON.stringify(expr)}`);
    expect((thrown as Error).message).toMatch(detail);
  });

  it("refuses a time zone that does not exist", () => {
    expect(() => checkCron("0 2 * * *", "Mars/Olympus")).toThrow(/time zone "Mars\/Olympus"/);
    expect(() => checkCron("0 2 * * *", "Europe/Paris")).not.toThrow();
  });

  it("is a zod schema for service configuration", () => {
    expect(cronSchema.safeParse("0 2 * * *").success).toBe(true);
    expect(cronSchema.safeParse("0 2 * *").error?.issues[0]?.message).toMatch(/not a cron expression/);
  });
});

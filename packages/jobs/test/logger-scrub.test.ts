import { describe, expect, it } from "vitest";
import { captureLogger } from "./helpers.js";

describe("logger scrubbing", () => {
  it("logging an object that holds a Buffer does not throw (regression: pino wildcard redaction threw a TypeError)", () => {
    const { logger, lines } = captureLogger();
    expect(() =>
      logger.info(
        { result: Buffer.from("abc"), nested: { bytes: new Uint8Array(3), deeper: { b: Buffer.alloc(2) } } },
        "bytes",
      ),
    ).not.toThrow();
    expect(lines()).toContain('"msg":"bytes"');
  });

  it("secret fields are censored at any depth, Redis command arguments are dropped from errors", () => {
    const { logger, lines } = captureLogger();
    const err = Object.assign(new Error("WRONGPASS invalid username-password pair"), {
      command: { name: "auth", args: ["hunter2"] },
    });
    logger.error({ err, cause: { command: { name: "hello", args: ["3", "AUTH", "u", "hunter3"] } } }, "refused");
    logger.info(
      { a: { b: { c: { password: "hunter4", Authorization: "Bearer hunter5" } } }, redisUrl: "redis://:hunter6@r" },
      "deep",
    );
    const text = lines();
    for (const secret of ["hunter2", "hunter3", "hunter4", "hunter5", "hunter6"]) expect(text).not.toContain(secret);
    expect(text).toContain("WRONGPASS");
    expect(text).toContain('"name":"auth"');
    expect(text).toContain('"type":"Error"');
  });
});

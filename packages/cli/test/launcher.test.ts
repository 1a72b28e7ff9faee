import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

// The command as npm links it (node_modules/.bin/xenfleet), run against the build.
const root = join(import.meta.dirname, "../../..");
const launcher = join(root, "packages/cli/bin/xenfleet.js");
const run = (args: string[]) => promisify(execFile)(process.execPath, [launcher, ...args], { cwd: root });

describe("the xenfleet launcher", () => {
  it("--version prints the version of packages/cli/package.json", async () => {
    const { version } = JSON.parse(readFileSync(join(root, "packages/cli/package.json"), "utf8")) as {
      version: string;
    };
    const { stdout } = await run(["--version"]);
    expect(stdout.trim()).toBe(version);
  });
});

#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { XenfleetError } from "@xenfleet/core";
import { registerDemoCommand } from "./commands/demo.js";
import { registerFleetCommands } from "./commands/fleet.js";
import { RedisUnreachableError } from "./commands/fleet-options.js";
import { registerHostCommand } from "./commands/host.js";
import { registerMigrateCommands } from "./commands/migrate.js";
import { registerImageCommands } from "./commands/image.js";
import { registerSimCommands } from "./commands/sim.js";
import { registerUpCommands } from "./commands/up.js";
import { registerStreamCommands } from "./commands/stream.js";

// The version of this package (src/ and dist/ both sit next to package.json).
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

const program = new Command("xenfleet")
  .description("Save, restore, compress and migrate Xen domains at fleet scale")
  .version(version, "-V, --version", "print the version of xenfleet")
  .showHelpAfterError();

registerStreamCommands(program);
registerSimCommands(program);
registerImageCommands(program);
registerFleetCommands(program);
registerMigrateCommands(program);
registerUpCommands(program);
registerHostCommand(program);
registerDemoCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Errors raised on purpose carry a code and a message meant for the user;
  // anything else is a bug, and its stack trace helps find it.
  if (error instanceof RedisUnreachableError) {
    process.stderr.write(`xenfleet: ${error.message}\n`);
  } else if (error instanceof XenfleetError) {
    process.stderr.write(`xenfleet: ${error.message} [${error.code}]\n`);
  } else {
    process.stderr.write(`xenfleet: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exitCode = error instanceof RedisUnreachableError ? error.exitCode : 1;
}

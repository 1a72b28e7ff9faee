#!/usr/bin/env node
import { Command } from "commander";
import { XenfleetError } from "@xenfleet/core";
import { registerDemoCommand } from "./commands/demo.js";
import { registerFleetCommands } from "./commands/fleet.js";
import { registerHostCommand } from "./commands/host.js";
import { registerMigrateCommands } from "./commands/migrate.js";
import { registerImageCommands } from "./commands/image.js";
import { registerSimCommands } from "./commands/sim.js";
import { registerUpCommands } from "./commands/up.js";
import { registerStreamCommands } from "./commands/stream.js";

const program = new Command("xenfleet")
  .description("Save, restore, compress and migrate Xen domains at fleet scale")
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
  if (error instanceof XenfleetError) {
    process.stderr.write(`xenfleet: ${error.message} [${error.code}]\n`);
  } else {
    process.stderr.write(`xenfleet: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exitCode = 1;
}

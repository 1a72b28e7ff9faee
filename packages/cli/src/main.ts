#!/usr/bin/env node
import { Command } from "commander";
import { registerStreamCommands } from "./commands/stream.js";

const program = new Command("xenfleet")
  .description("Save, restore, compress and migrate Xen domains at fleet scale")
  .showHelpAfterError();

registerStreamCommands(program);

await program.parseAsync(process.argv);

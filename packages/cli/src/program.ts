/**
 * The `xenfleet` command: every subcommand, one error convention, one exit
 * code table (errors.ts), one JSON convention (output.ts). `runCli` is the
 * whole command line as a function: it never throws, it returns the exit
 * code.
 */
import { readFileSync } from "node:fs";
import { Command, type Option } from "commander";
import { registerDashboardCommand } from "./commands/dashboard.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerFleetCommands } from "./commands/fleet.js";
import { registerHostCommand } from "./commands/host.js";
import { registerImageCommands } from "./commands/image.js";
import { registerKeyCommands } from "./commands/keys.js";
import { registerMigrateCommands } from "./commands/migrate.js";
import { registerSimCommands } from "./commands/sim.js";
import { registerStreamCommands } from "./commands/stream.js";
import { registerUpCommands } from "./commands/up.js";
import { reportError, wantsJson } from "./output.js";

// The version of this package (src/ and dist/ both sit next to package.json).
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export const CONVENTIONS = `
Exit codes:
  0  success
  1  the work ran and some of it failed (a batch with failures or domains not
     saved, a verify that found corruption, a job that failed)
  2  usage: a bad flag or value, an unknown command, host, domain, image or file
  3  a dependency could not be reached: Redis, the store, a host

With --json a command prints exactly one JSON document on stdout: an object
with "ok" (true exactly when the exit code is 0) and, when not ok,
"error": {"code", "message"}. Lists are arrays under a named field
({"ok": true, "images": [...]}). Timestamps are ISO 8601, sizes in bytes,
durations in seconds. Progress and logs go to stderr.

Sizes are written 64M, 1.5GiB, 4096; durations 500ms, 30s, 15m, 1h, 7d.
XENFLEET_DEBUG=1 prints the stack trace of an unexpected error.`;

/** Every command in the tree, depth first: the program's own and their subcommands. */
export function allCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allCommands(c)]);
}

export function buildProgram(): Command {
  const program = new Command("xenfleet")
    .description("Save, restore, compress and migrate Xen domains at fleet scale")
    .version(version, "-V, --version", "print the version of xenfleet")
    // Errors come back to runCli (exit code 2) instead of exiting here; subcommands inherit this.
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .addHelpText("after", CONVENTIONS);
  registerStreamCommands(program);
  registerSimCommands(program);
  registerImageCommands(program);
  registerKeyCommands(program);
  registerFleetCommands(program);
  registerMigrateCommands(program);
  registerUpCommands(program);
  registerHostCommand(program);
  registerDemoCommand(program);
  registerDashboardCommand(program);
  for (const command of allCommands(program)) markRequired(command.options as readonly Option[]);
  return program;
}

/** Required options say so in their help. */
function markRequired(options: readonly Option[]): void {
  for (const option of options)
    if (option.mandatory && !option.description.includes("(required)"))
      option.description = `${option.description} (required)`;
}

/**
 * Runs the command line (the arguments after the program name) and returns
 * the exit code. With --json, commander's own messages are left out: the
 * one document on stdout carries the error.
 */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const json = wantsJson(args);
  const program = buildProgram();
  if (json)
    for (const command of [program, ...allCommands(program)])
      command.configureOutput({ outputError: () => {} }).showHelpAfterError(false);
  try {
    await program.parseAsync([...args], { from: "user" });
    return 0;
  } catch (error) {
    return reportError(error, json, env);
  }
}

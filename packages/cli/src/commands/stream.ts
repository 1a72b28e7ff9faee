import type { Command } from "commander";

export function registerStreamCommands(program: Command): void {
  program.command("stream").description("Inspect, verify and convert Xen save/migration streams");
}

/**
 * `xenfleet stream convert-legacy IN OUT`: converts a legacy (pre-v2) save
 * stream to v2, byte for byte as Xen's convert-legacy-stream does, but also
 * reading xl-wrapped files and detecting the toolstack width and guest type
 * when the stream allows. See packages/format/src/legacy/README.md.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Option, type Command } from "commander";
import { type OutputFormat, type ToolstackWidth, openLegacyAsV2 } from "@xenfleet/format/legacy";
import { inputFile } from "../args.js";
import { UsageError } from "../errors.js";
import { emit } from "../output.js";
import { writeOutput } from "../output-file.js";

interface Options {
  width?: "32" | "64";
  guest?: "pv" | "hvm";
  format?: OutputFormat;
  skipQemu?: boolean;
  json?: boolean;
}

/** Adds `convert-legacy` to the `stream` command group. */
export function registerLegacyCommands(stream: Command): void {
  stream
    .command("convert-legacy")
    .description("Convert a legacy (pre-v2, Xen <= 4.5) save stream, bare or xl-wrapped, to a v2 stream")
    .argument("<in>", "legacy stream file ('-' for stdin)", inputFile)
    .argument("<out>", "v2 stream file to write (written whole or not at all; '-' for stdout)")
    .addOption(
      new Option("--width <bits>", "toolstack width that wrote the stream (detected when omitted)").choices([
        "32",
        "64",
      ]),
    )
    .addOption(new Option("--guest <type>", "guest type (detected when omitted)").choices(["pv", "hvm"]))
    .addOption(
      new Option("--format <format>", "stream to write (default libxc; libxl for xl-wrapped input)").choices([
        "libxc",
        "libxl",
      ]),
    )
    .option("--skip-qemu", "leave an HVM stream's device-model record unread (libxc format only)")
    .option("--json", "print what was converted as one JSON document (not with - as OUT)")
    .action(async (input: string, output: string, options: Options) => {
      if (output === "-" && options.json)
        throw new UsageError("--json prints to standard output, which - already takes for the stream");
      const { info, chunks } = await openLegacyAsV2(input === "-" ? process.stdin : input, {
        width: options.width ? (Number(options.width) as ToolstackWidth) : undefined,
        guest: options.guest,
        format: options.format,
        skipQemu: options.skipQemu,
      });
      await writeOutput(output, (sink) =>
        pipeline(Readable.from(chunks, { objectMode: false }), sink, { end: sink !== process.stdout }),
      );
      if (output === "-") return;
      const how = (detected: boolean) => (detected ? "detected" : "given");
      emit(
        options.json,
        { ...info, file: output },
        () =>
          `converted ${info.xlWrapped ? "xl-wrapped " : ""}legacy ${info.guest.toUpperCase()} stream ` +
          `(${info.width}-bit toolstack, ${how(info.widthDetected)}; guest type ${how(info.guestDetected)}) to a ${info.format} v2 stream: ${output}`,
      );
    });
}

/**
 * `xenfleet stream convert-legacy IN OUT`: converts a legacy (pre-v2) save
 * stream to v2, byte for byte as Xen's convert-legacy-stream does, but also
 * reading xl-wrapped files and detecting the toolstack width and guest type
 * when the stream allows. See packages/format/src/legacy/README.md.
 */
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { InvalidArgumentError, type Command } from "commander";
import { LegacyError, type OutputFormat, type ToolstackWidth, openLegacyAsV2 } from "@xenfleet/format/legacy";

function choice<T extends string>(name: string, allowed: readonly T[]) {
  return (value: string): T => {
    if ((allowed as readonly string[]).includes(value)) return value as T;
    throw new InvalidArgumentError(`${name} must be ${allowed.join(" or ")}`);
  };
}

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
    .argument("<in>", "legacy stream file ('-' for stdin)")
    .argument("<out>", "v2 stream file to write (written whole or not at all)")
    .option(
      "--width <bits>",
      "toolstack width that wrote the stream: 32 or 64 (detected when omitted)",
      choice("--width", ["32", "64"] as const),
    )
    .option(
      "--guest <type>",
      "guest type: pv or hvm (detected when omitted)",
      choice("--guest", ["pv", "hvm"] as const),
    )
    .option(
      "--format <format>",
      "stream to write: libxc or libxl (default libxc; libxl for xl-wrapped input)",
      choice("--format", ["libxc", "libxl"] as const),
    )
    .option("--skip-qemu", "leave an HVM stream's device-model record unread (libxc format only)")
    .option("--json", "print what was converted as one JSON line")
    .action(async (input: string, output: string, options: Options) => {
      const partial = `${output}.partial`;
      try {
        const { info, chunks } = await openLegacyAsV2(input === "-" ? process.stdin : input, {
          width: options.width ? (Number(options.width) as ToolstackWidth) : undefined,
          guest: options.guest,
          format: options.format,
          skipQemu: options.skipQemu,
        });
        await pipeline(Readable.from(chunks, { objectMode: false }), createWriteStream(partial));
        await rename(partial, output);
        if (options.json) process.stdout.write(JSON.stringify({ ok: true, ...info }) + "\n");
        else {
          const how = (detected: boolean) => (detected ? "detected" : "given");
          process.stdout.write(
            `converted ${info.xlWrapped ? "xl-wrapped " : ""}legacy ${info.guest.toUpperCase()} stream ` +
              `(${info.width}-bit toolstack, ${how(info.widthDetected)}; guest type ${how(info.guestDetected)}) to a ${info.format} v2 stream: ${output}\n`,
          );
        }
      } catch (error) {
        await rm(partial, { force: true });
        if (options.json) {
          const details =
            error instanceof LegacyError
              ? {
                  code: error.code,
                  reason: error.reason,
                  offset: error.offset,
                  part: error.part,
                  expected: error.expected,
                  actual: error.actual,
                }
              : {};
          process.stdout.write(
            JSON.stringify({
              ok: false,
              error: { message: error instanceof Error ? error.message : String(error), ...details },
            }) + "\n",
          );
        } else process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      }
    });
}

import { Option, type Command } from "commander";
import { type StreamSource, type StreamSummary, inspectStream, verifyStream } from "@xenfleet/format";
import { inputFile } from "../args.js";
import { emit } from "../output.js";
import { registerLegacyCommands } from "./legacy.js";

type Format = "auto" | "xl" | "libxl" | "libxc";

function source(file: string): StreamSource {
  return file === "-" ? process.stdin : file;
}

function formatOption(): Option {
  return new Option("--format <format>", "outermost layer").choices(["auto", "xl", "libxl", "libxc"]).default("auto");
}

function describe(s: StreamSummary): string {
  const lines = [`layers:      ${s.layers.join(" > ")}`];
  if (s.xl)
    lines.push(
      `xl:          ${s.xl.byteOrder}-endian, flags 0x${s.xl.mandatoryFlags.toString(16)}/0x${s.xl.optionalFlags.toString(16)}, config ${s.xl.hasConfig ? (s.xl.json ? "JSON" : "text") : "none"}`,
    );
  if (s.libxl)
    lines.push(
      `libxl:       v${s.libxl.version}, ${s.libxl.byteOrder}-endian${s.libxl.legacy ? ", legacy-converted" : ""}`,
    );
  if (s.libxc) {
    lines.push(`libxc:       v${s.libxc.version}, ${s.libxc.byteOrder}-endian`);
    lines.push(`domain:      ${s.libxc.domainType}, page shift ${s.libxc.pageShift}, Xen ${s.libxc.xenVersion}`);
  }
  for (const layer of ["libxl", "libxc"] as const) {
    const counts = Object.entries(s.records[layer]);
    if (counts.length === 0) continue;
    lines.push(`${layer} records:`);
    for (const [name, n] of counts) lines.push(`  ${name.padEnd(28)} ${n}`);
  }
  lines.push(`pages:       ${s.pages} (${s.pfns} pfn entries)`);
  if (s.deviceModelBytes !== undefined)
    lines.push(`qemu record: ${s.deviceModelBytes} bytes of device model state after END`);
  lines.push(`bytes:       ${s.bytes}`);
  return lines.join("\n");
}

export function registerStreamCommands(program: Command): void {
  const stream = program.command("stream").description("Inspect, verify and convert Xen save/migration streams");
  registerLegacyCommands(stream);

  stream
    .command("inspect")
    .description("Summarise a stream: layers, versions, domain, record counts, pages, bytes")
    .argument("<file>", "stream file, or - for standard input", inputFile)
    .option("--json", "print the summary as one JSON document")
    .addOption(formatOption())
    .action(async (file: string, opts: { json?: boolean; format: Format }) => {
      const summary = await inspectStream(source(file), { format: opts.format });
      emit(opts.json, { summary }, () => describe(summary));
    });

  stream
    .command("verify")
    .description("Check a stream against the spec; exit 0 if valid, 1 naming the first error otherwise")
    .argument("<file>", "stream file, or - for standard input", inputFile)
    .option("--json", "print the result as one JSON document")
    .addOption(formatOption())
    .action(async (file: string, opts: { json?: boolean; format: Format }) => {
      const result = await verifyStream(source(file), { format: opts.format });
      if (!result.ok) throw result.error;
      const s = result.summary;
      emit(
        opts.json,
        { summary: s },
        () => `ok: ${s.layers.join(" > ")}, ${s.libxc?.domainType ?? "?"}, ${s.pages} pages, ${s.bytes} bytes`,
      );
    });
}

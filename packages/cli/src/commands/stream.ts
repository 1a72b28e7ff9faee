import type { Command } from "commander";
import { registerLegacyCommands } from "./legacy.js";
import { FormatError, type StreamSource, type StreamSummary, inspectStream, verifyStream } from "@xenfleet/format";

type Format = "auto" | "xl" | "libxl" | "libxc";

function source(file: string): StreamSource {
  return file === "-" ? process.stdin : file;
}

function formatOption(value: string): Format {
  if (value === "auto" || value === "xl" || value === "libxl" || value === "libxc") return value;
  throw new Error(`--format must be auto, xl, libxl or libxc, not ${value}`);
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
  lines.push(`bytes:       ${s.bytes}`);
  return lines.join("\n");
}

function errorJson(error: unknown): Record<string, unknown> {
  if (error instanceof FormatError) {
    return {
      code: error.code,
      reason: error.reason,
      message: error.message,
      offset: error.offset,
      layer: error.layer,
      recordType: error.recordType,
      recordName: error.recordName,
      expected: error.expected,
      actual: error.actual,
    };
  }
  return { message: error instanceof Error ? error.message : String(error) };
}

function fail(error: unknown, json: boolean): void {
  if (json) process.stdout.write(JSON.stringify({ ok: false, error: errorJson(error) }) + "\n");
  else process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}

export function registerStreamCommands(program: Command): void {
  const stream = program.command("stream").description("Inspect, verify and convert Xen save/migration streams");
  registerLegacyCommands(stream);

  stream
    .command("inspect")
    .description("Summarise a stream: layers, versions, domain, record counts, pages, bytes")
    .argument("<file>", "stream file, or - for standard input")
    .option("--json", "print the summary as one JSON object")
    .option("--format <format>", "outermost layer: auto, xl, libxl or libxc", formatOption, "auto" as Format)
    .action(async (file: string, opts: { json?: boolean; format: Format }) => {
      try {
        const summary = await inspectStream(source(file), { format: opts.format });
        process.stdout.write((opts.json ? JSON.stringify(summary) : describe(summary)) + "\n");
      } catch (error) {
        fail(error, opts.json ?? false);
      }
    });

  stream
    .command("verify")
    .description("Check a stream against the spec; exit 0 if valid, 1 with the error otherwise")
    .argument("<file>", "stream file, or - for standard input")
    .option("--json", "print the result as one JSON object")
    .option("--format <format>", "outermost layer: auto, xl, libxl or libxc", formatOption, "auto" as Format)
    .action(async (file: string, opts: { json?: boolean; format: Format }) => {
      try {
        const result = await verifyStream(source(file), { format: opts.format });
        if (!result.ok) return fail(result.error, opts.json ?? false);
        const s = result.summary;
        if (opts.json) process.stdout.write(JSON.stringify({ ok: true, summary: s }) + "\n");
        else
          process.stdout.write(
            `ok: ${s.layers.join(" > ")}, ${s.libxc?.domainType ?? "?"}, ${s.pages} pages, ${s.bytes} bytes\n`,
          );
      } catch (error) {
        fail(error, opts.json ?? false);
      }
    });
}

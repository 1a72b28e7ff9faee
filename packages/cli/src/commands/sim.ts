import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { Option, type Command } from "commander";
import { formatSize } from "@xenfleet/core";
import { type DomainType, SimHost } from "@xenfleet/hypervisor";
import { count, inputFile, positive, size, sizeOption } from "../args.js";
import { UsageError } from "../errors.js";
import { emit, seconds } from "../output.js";
import { writeOutput } from "../output-file.js";

/**
 * `xenfleet sim`: the simulated hypervisor from the command line. Each
 * command works on a scratch sim host in a temporary directory, removed
 * afterwards: `sample` writes the save image of a fresh domain, `restore`
 * builds a domain from an image and prints its digest.
 */
export function registerSimCommands(program: Command): void {
  const sim = program.command("sim").description("Simulated Xen hosts: sample save images, restore and digest them");

  sim
    .command("sample")
    .description("Write the save image (xl format) of a fresh simulated domain to FILE, or stdout with -")
    .argument("<file>", "output file (written whole or not at all), or - for stdout")
    .addOption(new Option("--type <type>", "domain type").choices(["pv", "hvm", "pvh"]).makeOptionMandatory())
    .addOption(sizeOption("--memory <size>", "memory, e.g. 16M, 256MiB, 1G").makeOptionMandatory())
    .option("--seed <n>", "memory content seed", count, 1)
    .option("--vcpus <n>", "vCPUs", positive, 1)
    .option("--live", "live save: pre-copy while the domain writes its memory")
    .option(
      "--dirty-rate <rate>",
      "page writes while running: pages/s, or bytes/s with a unit (10M = 10 MiB/s)",
      dirtyRate,
      0,
    )
    .option("--json", "print the domain and the save report as one JSON document (not with -)")
    .action(
      async (
        file: string,
        opts: {
          type: DomainType;
          memory: number;
          seed: number;
          vcpus: number;
          live?: boolean;
          dirtyRate: number;
          json?: boolean;
        },
      ) => {
        if (file === "-" && opts.json)
          throw new UsageError("--json prints to standard output, which - already takes for the image");
        await withScratchHost(async (host) => {
          const d = await host.createDomain({
            name: `sample-${opts.seed}`,
            type: opts.type,
            memoryBytes: opts.memory,
            vcpus: opts.vcpus,
            seed: opts.seed,
            dirtyPagesPerSec: opts.live ? opts.dirtyRate : 0,
          });
          const report = await writeOutput(file, (sink) =>
            host.save(d.uuid, sink, { mode: opts.live ? "live" : "suspend" }),
          );
          const text = `${formatSize(report.bytesWritten)}, ${report.iterations} pass(es) ${JSON.stringify(report.pagesPerIteration)}, digest ${report.digest}`;
          // With -, stdout carries the image: the summary goes to stderr.
          if (file === "-") process.stderr.write(`${text}\n`);
          else
            emit(
              opts.json,
              {
                file,
                ...domainJson(d),
                mode: report.mode,
                bytes: report.bytesWritten,
                iterations: report.iterations,
                pagesPerIteration: report.pagesPerIteration,
                seconds: seconds(report.durationMs),
                ...(report.downtimeMs === undefined ? {} : { downtimeSeconds: seconds(report.downtimeMs) }),
                ...(report.stopReason === undefined ? {} : { stopReason: report.stopReason }),
                digest: report.digest ?? null,
              },
              () => text,
            );
        });
      },
    );

  sim
    .command("restore")
    .description("Restore a save image from FILE (or stdin with -) onto a scratch sim host and print its digest")
    .argument("<file>", "input file, or - for stdin", inputFile)
    .option("--json", "print the domain and digests as one JSON document")
    .action(async (file: string, opts: { json?: boolean }) => {
      await withScratchHost(async (host) => {
        const d = await host.restore(source(file), { paused: true });
        const digest = await host.digest(d.uuid);
        emit(
          opts.json,
          { ...domainJson(d), digest },
          () =>
            `domain:         ${d.name} (${d.type}, ${formatSize(d.memoryBytes)}, ${d.vcpus} vCPU)\n` +
            `memory digest:  ${digest.memory}\nvcpu digest:    ${digest.vcpus}\ndigest:         ${digest.digest}`,
        );
      });
    });
}

/** A sim domain's fields in a JSON document: its name under `domain`, as every command has it. */
function domainJson(d: { name: string; uuid: string; type: string; memoryBytes: number; vcpus: number }) {
  return { domain: d.name, uuid: d.uuid, type: d.type, memory: d.memoryBytes, vcpus: d.vcpus };
}

async function withScratchHost(fn: (host: SimHost) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-sim-"));
  try {
    // Room for any image: a scratch host only ever holds one domain.
    await fn(await SimHost.open(dir, { name: "scratch", totalMemoryBytes: 2 ** 50 }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function source(file: string): Readable {
  return file === "-" ? process.stdin : createReadStream(file);
}

/** A plain number is pages per second; a size with a unit is bytes per second. */
function dirtyRate(value: string): number {
  return /^\d+$/.test(value.trim()) ? Number(value) : size(value) / 4096;
}

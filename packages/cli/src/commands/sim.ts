import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import type { Command } from "commander";
import { type DomainType, SimHost } from "@xenfleet/hypervisor";
import { parseSize } from "@xenfleet/core";

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
    .argument("<file>", "output file, or - for stdout")
    .requiredOption("--type <type>", "pv, hvm or pvh", domainType)
    .requiredOption("--memory <size>", "memory, e.g. 16M, 256MiB, 1G", parseSize)
    .option("--seed <n>", "memory content seed", integer, 1)
    .option("--vcpus <n>", "vCPUs", integer, 1)
    .option("--live", "live save: pre-copy while the domain writes its memory")
    .option(
      "--dirty-rate <rate>",
      "page writes while running: pages/s, or bytes/s with a unit (10M = 10 MiB/s)",
      dirtyRate,
      0,
    )
    .option("--json", "print the save report as JSON on stderr")
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
        await withScratchHost(async (host) => {
          const d = await host.createDomain({
            name: `sample-${opts.seed}`,
            type: opts.type,
            memoryBytes: opts.memory,
            vcpus: opts.vcpus,
            seed: opts.seed,
            dirtyPagesPerSec: opts.live ? opts.dirtyRate : 0,
          });
          const report = await host.save(d.uuid, sink(file), { mode: opts.live ? "live" : "suspend" });
          process.stderr.write(
            opts.json
              ? JSON.stringify({ domain: d, report }) + "\n"
              : `${report.bytesWritten} bytes, ${report.iterations} pass(es) ${JSON.stringify(report.pagesPerIteration)}, digest ${report.digest}\n`,
          );
        });
      },
    );

  sim
    .command("restore")
    .description("Restore a save image from FILE (or stdin with -) onto a scratch sim host and print its digest")
    .argument("<file>", "input file, or - for stdin")
    .option("--json", "print the domain and digests as JSON")
    .action(async (file: string, opts: { json?: boolean }) => {
      await withScratchHost(async (host) => {
        const d = await host.restore(source(file), { paused: true });
        const digest = await host.digest(d.uuid);
        process.stdout.write(
          opts.json
            ? JSON.stringify({ domain: d, digest }) + "\n"
            : `domain:         ${d.name} (${d.type}, ${d.memoryBytes} bytes, ${d.vcpus} vCPU)\n` +
                `memory digest:  ${digest.memory}\nvcpu digest:    ${digest.vcpus}\ndigest:         ${digest.digest}\n`,
        );
      });
    });
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

function sink(file: string): Writable {
  return file === "-" ? process.stdout : createWriteStream(file);
}

function source(file: string): Readable {
  return file === "-" ? process.stdin : createReadStream(file);
}

function domainType(value: string): DomainType {
  if (value === "pv" || value === "hvm" || value === "pvh") return value;
  throw new Error(`--type must be pv, hvm or pvh, not ${value}`);
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${value}`);
  return n;
}

/** A plain number is pages per second; a size with a unit is bytes per second. */
function dirtyRate(value: string): number {
  return /^\d+$/.test(value.trim()) ? Number(value) : parseSize(value) / 4096;
}

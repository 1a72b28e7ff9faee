/**
 * Whole-store check speed: `xenfleet check --read-data` against `restic check
 * --read-data`, on the same domains' save streams, in one run.
 *
 * DOMAINS sim domains (`xenfleet sim sample --type pv`, seeds 1..DOMAINS,
 * MIB MiB each) are saved once into a filesystem store and once into a
 * restic repository. Each tool then reads and hashes everything it stored,
 * its repository files in the page cache after a warm-up pass. The figure
 * compared is bytes stored per second (what each had to read), and the ratio
 * of the two; the target (issue 22) is xenfleet at least as fast per byte
 * stored. Each time is the median of ROUNDS runs, the tools taking turns.
 *
 * Runs the built CLI (packages/cli/dist): `npm run build` first.
 * Options (env): BENCH_CHECK_DOMAINS (default 4), BENCH_CHECK_MIB (1024
 * each), BENCH_CHECK_ROUNDS (3). Prints one JSON line.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { baselineToolEnv } from "./lib/baseline-env.js";

const DOMAINS = Number(process.env.BENCH_CHECK_DOMAINS ?? 4);
const MIB = Number(process.env.BENCH_CHECK_MIB ?? 1024);
const ROUNDS = Number(process.env.BENCH_CHECK_ROUNDS ?? 3);
const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "packages", "cli", "bin", "xenfleet.js");

const round = (n: number, digits = 3) => Number(n.toFixed(digits));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

function installed(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Bytes under a directory (apparent size of its files). */
function bytesUnder(dir: string): number {
  return Number(run("du", ["-sb", dir]).split("\t")[0]);
}

/** Runs a command to completion, output discarded; its wall time in seconds. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  return new Promise<number>((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve((performance.now() - started) / 1000)
        : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr.slice(0, 500)}`)),
    );
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-bench-check-"));
  try {
    const store = join(dir, "store");
    const files: string[] = [];
    for (let d = 1; d <= DOMAINS; d++) {
      const file = join(dir, `domain-${d}.xl`);
      run(process.execPath, [CLI, "sim", "sample", "--type", "pv", "--memory", `${MIB}M`, "--seed", String(d), file]);
      run(process.execPath, [CLI, "image", "import", file, "--domain", `vm${d}`, "--store", store]);
      files.push(file);
    }
    const runs: Record<string, { cmd: string; args: string[]; env: NodeJS.ProcessEnv; stored: number }> = {
      xenfleet: {
        cmd: process.execPath,
        args: [CLI, "check", "--read-data", "--store", store],
        env: process.env,
        stored: bytesUnder(store),
      },
    };
    const notes: string[] = [];
    if (installed("restic")) {
      const env = baselineToolEnv(dir);
      const repo = join(dir, "restic");
      run("restic", ["-r", repo, "init"], env);
      run("restic", ["-r", repo, "backup", "--quiet", ...files], env);
      runs.restic = {
        cmd: "restic",
        args: ["-r", repo, "--no-cache", "check", "--read-data"],
        env,
        stored: bytesUnder(repo),
      };
    } else notes.push("restic not installed: skipped");
    for (const r of Object.values(runs)) await timed(r.cmd, r.args, r.env);
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
    for (let i = 0; i < ROUNDS; i++)
      for (const [name, r] of Object.entries(runs)) times[name]!.push(await timed(r.cmd, r.args, r.env));
    const seconds = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, round(median(v))]));
    const perSecond = Object.fromEntries(
      Object.entries(runs).map(([k, r]) => [k, round(r.stored / seconds[k]! / 1e9)]),
    );
    const ratio = perSecond.restic === undefined ? null : round(perSecond.xenfleet! / perSecond.restic);
    const result = {
      bench: "check",
      domains: DOMAINS,
      streamBytes: DOMAINS * MIB * 2 ** 20,
      storedBytes: Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, r.stored])),
      rounds: ROUNDS,
      seconds,
      allSeconds: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map((x) => round(x))])),
      storedGbPerSecond: perSecond,
      xenfleetVsRestic: ratio,
      target: ratio === null ? null : ratio >= 1,
      notes,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

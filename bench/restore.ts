/**
 * Restore speed: one sim domain's save stream (`xenfleet sim sample --type pv
 * --memory 1024M --seed 11`), imported once into a filesystem store and once
 * into the in-repo S3 server on loopback, then read back in full to
 * /dev/null, side by side in one run:
 *   - xenfleet: `xenfleet image export ID -` (every page and the whole stream
 *     verified), from the local store and from S3;
 *   - restic: `restic dump` of the same file from a restic repository;
 *   - borg with fixed 4 KiB chunks: `borg extract --stdout`;
 *   - `cat` of the stream file: reading the page cache.
 * Every tool is a process of its own started from this one, and reads data
 * already in the page cache. restic and borg are skipped, with a note, when
 * not installed. Each figure is the median of ROUNDS runs, the tools taking
 * turns within a round so the machine's load falls on all of them alike.
 * Prints one JSON line.
 *
 * And a restore job through the fleet (lib/restore-job.ts): queued to its
 * domain running on a sim host, against the export alone and against the
 * same restore run directly in this process.
 *
 * Targets (issue 24): local export <= 0.4x restic dump; S3 <= 1.5x local;
 * restore job <= 1.2x the export.
 *
 * Runs the built CLI (packages/cli/dist): `npm run build` first.
 * Options (env): BENCH_RESTORE_MIB (default 1024), BENCH_RESTORE_ROUNDS (3),
 * BENCH_RESTORE_S3 (1; 0 skips the S3 store), BENCH_RESTORE_JOB (1; 0 skips
 * the restore job, which needs Redis: XENFLEET_REDIS, default the local one).
 */
import { execFileSync, spawn } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestS3Server } from "@xenfleet/store/testing";
import { baselineToolEnv } from "./lib/baseline-env.js";
import { timeRestoreJobs } from "./lib/restore-job.js";

const MIB = Number(process.env.BENCH_RESTORE_MIB ?? 1024);
const ROUNDS = Number(process.env.BENCH_RESTORE_ROUNDS ?? 3);
const WITH_S3 = process.env.BENCH_RESTORE_S3 !== "0";
const WITH_JOB = process.env.BENCH_RESTORE_JOB !== "0";
const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "packages", "cli", "bin", "xenfleet.js");

const round = (n: number, digits = 3) => Number(n.toFixed(digits));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function installed(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Runs a command with stdout to /dev/null; returns its wall time in seconds. */
function timedToNull(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const devnull = openSync("/dev/null", "w");
  const started = performance.now();
  return new Promise<number>((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", devnull, "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) resolve(seconds);
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr.slice(0, 500)}`));
    });
  }).finally(() => closeSync(devnull));
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-bench-restore-"));
  const s3 = WITH_S3 ? await startTestS3Server() : undefined;
  try {
    const file = join(dir, "domain.xl");
    run(process.execPath, [CLI, "sim", "sample", "--type", "pv", "--memory", `${MIB}M`, "--seed", "11", file]);
    const streamBytes = Number(run("stat", ["-c", "%s", file]).trim());

    const stores: Array<{ name: string; url: string; env: NodeJS.ProcessEnv }> = [
      { name: "local", url: join(dir, "store"), env: process.env },
    ];
    if (s3 !== undefined) {
      const bucket = await s3.createBucket();
      const { url, env } = s3.url(bucket);
      stores.push({ name: "s3", url, env: { ...process.env, ...env } });
    }
    const runs: Record<string, { cmd: string; args: string[]; env: NodeJS.ProcessEnv }> = {};
    let localImage = "";
    for (const s of stores) {
      const out = run(
        process.execPath,
        [CLI, "image", "import", file, "--domain", "bench", "--store", s.url, "--json"],
        s.env,
      );
      const { imageId } = JSON.parse(out) as { imageId: string };
      if (s.name === "local") localImage = imageId;
      runs[`xenfleet_${s.name}`] = {
        cmd: process.execPath,
        args: [CLI, "image", "export", imageId, "-", "--store", s.url],
        env: s.env,
      };
    }

    const notes: string[] = [];
    const toolEnv = baselineToolEnv(dir);
    if (installed("restic")) {
      const repo = join(dir, "restic");
      run("restic", ["-r", repo, "init"], toolEnv);
      run("restic", ["-r", repo, "backup", "--quiet", file], toolEnv);
      runs.restic = { cmd: "restic", args: ["-r", repo, "dump", "latest", file], env: toolEnv };
    } else notes.push("restic not installed: skipped");
    if (installed("borg")) {
      const repo = join(dir, "borg-fixed");
      run("borg", ["init", "-e", "none", repo], toolEnv);
      run("borg", ["create", "--compression", "zstd,3", "--chunker-params", "fixed,4096", `${repo}::a`, file], toolEnv);
      // borg stores the path without its leading slash.
      runs.borgFixed4k = {
        cmd: "borg",
        args: ["extract", "--stdout", `${repo}::a`, file.replace(/^\//, "")],
        env: toolEnv,
      };
    } else notes.push("borg not installed: skipped");
    runs.cat = { cmd: "cat", args: [file], env: process.env };

    // One warm-up pass puts every store's files in the page cache.
    for (const r of Object.values(runs)) await timedToNull(r.cmd, r.args, r.env);
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
    for (let i = 0; i < ROUNDS; i++)
      for (const [name, r] of Object.entries(runs)) times[name]!.push(await timedToNull(r.cmd, r.args, r.env));

    if (WITH_JOB) {
      const jobs = await timeRestoreJobs(dir, join(dir, "store"), localImage, MIB * 2 ** 20, ROUNDS);
      times.restoreJob = jobs.job;
      times.restoreDirect = jobs.direct;
    } else notes.push("BENCH_RESTORE_JOB=0: the restore job was not timed");

    const seconds = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, round(median(v))]));
    const local = seconds.xenfleet_local!;
    const ratio = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? null : round(a / b);
    const result = {
      bench: "restore",
      streamBytes,
      rounds: ROUNDS,
      seconds,
      allSeconds: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map((x) => round(x))])),
      gbPerSecond: Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, round(streamBytes / v / 1e9)])),
      ratios: {
        localVsRestic: ratio(local, seconds.restic),
        localVsBorgFixed4k: ratio(local, seconds.borgFixed4k),
        localVsCat: ratio(local, seconds.cat),
        s3VsLocal: ratio(seconds.xenfleet_s3, local),
        restoreJobVsExport: ratio(seconds.restoreJob, local),
        restoreJobVsDirect: ratio(seconds.restoreJob, seconds.restoreDirect),
      },
      targets: {
        localVsRestic: seconds.restic === undefined ? null : local <= 0.4 * seconds.restic,
        s3VsLocal: seconds.xenfleet_s3 === undefined ? null : seconds.xenfleet_s3 <= 1.5 * local,
        restoreJobVsExport: seconds.restoreJob === undefined ? null : seconds.restoreJob <= 1.2 * local,
      },
      notes,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

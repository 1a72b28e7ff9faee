/** Running the built `xenfleet` as a user does, as a process, and a Redis URL nothing answers at. */
import { execFile, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";

export const root = join(import.meta.dirname, "../../..");
/** The command as npm links it (node_modules/.bin/xenfleet), run against the build. */
export const launcher = join(root, "packages/cli/bin/xenfleet.js");

/** Builds the CLI and what it depends on (turbo: cached when nothing changed), for tests that run the build. */
export function buildCli(): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile("npx", ["turbo", "run", "build", "--filter=@xenfleet/cli..."], { cwd: root }, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
}

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs xenfleet to its end; `stdinFile` is piped to its standard input. */
export function xenfleet(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; stdinFile?: string } = {},
): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [launcher, ...args], {
      cwd: options.cwd ?? root,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
    if (options.stdinFile) void readFile(options.stdinFile).then((b) => child.stdin.end(b));
    else child.stdin.end();
  });
}

/** A port nothing listens on: one the kernel handed out and was closed again. */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

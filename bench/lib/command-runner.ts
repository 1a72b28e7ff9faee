import { spawn, type ChildProcess } from "node:child_process";

/**
 * Runs a bench's commands (`sync`, `du`, the other backup tools) from a
 * small helper process, started before the bench allocates anything large.
 *
 * Spawning straight from the bench process forks it, and a fork marks every
 * page of the process copy-on-write: afterwards, the first write to each
 * page the bench holds (a synthetic domain, an importer's read buffers and
 * tables) faults once more. That cost would land on whatever the bench runs
 * next in-process, the import it times, though an importer that forks
 * nothing never pays it. The helper forks instead, and it is small.
 */
export interface CommandResult {
  readonly stdout: string;
}

const HELPER = `
const { execFile } = require("node:child_process");
process.on("message", ({ id, cmd, args, env }) =>
  execFile(cmd, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
    process.send({ id, stdout, error: err ? err.message + (stderr ? "\\n" + stderr : "") : null })));
`;

export class CommandRunner {
  private readonly helper: ChildProcess;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (r: CommandResult) => void; reject: (err: Error) => void }>();

  constructor() {
    this.helper = spawn(process.execPath, ["-e", HELPER], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.helper.on("message", (m: { id: number; stdout: string; error: string | null }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error === null) w?.resolve({ stdout: m.stdout });
      else w?.reject(new Error(m.error));
    });
    this.helper.on("exit", (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`command helper exited (${code})`));
      this.waiting.clear();
    });
  }

  /** Runs `cmd args` to completion; rejects with its error and stderr if it fails. */
  run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.helper.send({ id, cmd, args, env });
    });
  }

  close(): void {
    this.helper.disconnect();
  }
}

/**
 * A small process supervisor: runs child processes, restarts any that die
 * (with a growing delay, so a child that crashes at once does not spin), and
 * stops them all with SIGTERM, then SIGKILL for any that outlive the grace
 * period. Each child's output goes to its own log file. A child that exits
 * with EXIT_CONFIG is not restarted: its configuration is wrong, and starting
 * it again would only fail the same way (a crash loop).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, closeSync } from "node:fs";
import { join } from "node:path";

export interface ChildSpec {
  /** Unique, used for the log file name: <logDir>/<name>.log. */
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

export type SupervisorEvent =
  | { type: "started"; name: string; pid: number }
  | { type: "exited"; name: string; code: number | null; signal: NodeJS.Signals | null; restartInMs?: number };

export interface SupervisorOptions {
  /** Each child's output goes to <logDir>/<name>.log; without one, to the supervisor's own stdout and stderr (a container's log). */
  logDir: string | undefined;
  onEvent?: (event: SupervisorEvent) => void;
  /** Delay before the first restart; doubles up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

interface Running {
  spec: ChildSpec;
  process?: ChildProcess;
  exited?: Promise<void>;
  startedAt: number;
  backoffMs: number;
  timer?: NodeJS.Timeout;
  restarts: number;
}

/** The exit code of a service whose configuration is invalid (sysexits' EX_CONFIG); it is not restarted. */
export const EXIT_CONFIG = 78;

/** A child that ran this long before dying was healthy: restart it without delay growth. */
const HEALTHY_MS = 30_000;

export class Supervisor {
  private readonly children = new Map<string, Running>();
  private stopping = false;

  constructor(private readonly options: SupervisorOptions) {
    if (options.logDir !== undefined) mkdirSync(options.logDir, { recursive: true });
  }

  start(specs: readonly ChildSpec[]): void {
    for (const spec of specs) {
      if (this.children.has(spec.name)) throw new Error(`child ${spec.name} already supervised`);
      const child: Running = { spec, startedAt: 0, backoffMs: this.options.backoffMs ?? 500, restarts: 0 };
      this.children.set(spec.name, child);
      this.launch(child);
    }
  }

  /** Names and pids of the children running now. */
  pids(): Record<string, number | undefined> {
    const running = (p: ChildProcess | undefined) => p !== undefined && p.exitCode === null && p.signalCode === null;
    return Object.fromEntries(
      [...this.children].map(([name, c]) => [name, running(c.process) ? c.process?.pid : undefined]),
    );
  }

  restarts(name: string): number {
    return this.children.get(name)?.restarts ?? 0;
  }

  /** SIGTERM every child; SIGKILL those still running after `graceMs`. Resolves when all have exited. */
  async stop(graceMs = 75_000): Promise<void> {
    this.stopping = true;
    const waits: Promise<void>[] = [];
    for (const child of this.children.values()) {
      clearTimeout(child.timer);
      const proc = child.process;
      if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) continue;
      proc.kill("SIGTERM");
      const killer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      waits.push((child.exited ?? Promise.resolve()).finally(() => clearTimeout(killer)));
    }
    await Promise.all(waits);
  }

  private launch(child: Running): void {
    const { logDir } = this.options;
    const log = logDir === undefined ? "inherit" : openSync(join(logDir, `${child.spec.name}.log`), "a");
    let proc: ChildProcess;
    try {
      proc = spawn(child.spec.command, child.spec.args, {
        env: child.spec.env,
        cwd: child.spec.cwd,
        stdio: ["ignore", log, log],
        // Its own process group: a Ctrl-C on the terminal reaches only the
        // supervisor, which then stops the children in order (one signal
        // each), rather than every child getting SIGINT and then SIGTERM
        // (which a worker takes as "exit now").
        detached: true,
      });
    } finally {
      if (typeof log === "number") closeSync(log);
    }
    child.process = proc;
    child.startedAt = Date.now();
    child.exited = new Promise((resolve) => {
      proc.once("exit", (code, signal) => {
        resolve();
        this.onExit(child, code, signal);
      });
      // A spawn failure (missing binary) arrives as "error" without "exit".
      proc.once("error", () => {
        if (proc.exitCode === null && proc.pid === undefined) {
          resolve();
          this.onExit(child, null, null);
        }
      });
    });
    if (proc.pid !== undefined) this.options.onEvent?.({ type: "started", name: child.spec.name, pid: proc.pid });
  }

  private onExit(child: Running, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || code === EXIT_CONFIG) {
      this.options.onEvent?.({ type: "exited", name: child.spec.name, code, signal });
      return;
    }
    if (Date.now() - child.startedAt > HEALTHY_MS) child.backoffMs = this.options.backoffMs ?? 500;
    const delay = child.backoffMs;
    child.backoffMs = Math.min(delay * 2, this.options.maxBackoffMs ?? 15_000);
    this.options.onEvent?.({ type: "exited", name: child.spec.name, code, signal, restartInMs: delay });
    child.timer = setTimeout(() => {
      if (this.stopping) return;
      child.restarts++;
      this.launch(child);
    }, delay);
  }
}

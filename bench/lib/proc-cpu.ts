import { readFileSync } from "node:fs";

/**
 * CPU seconds a process has used so far, read from /proc (Linux): user and
 * system time of all its threads, and of its main thread alone (the rest is
 * V8's GC helpers and libuv's pool). Benches report it next to wall time so a
 * result on a shared machine says whether the CPU or the work held it back.
 */
export interface CpuTimes {
  user: number;
  system: number;
  /** user + system of the main thread. */
  main: number;
}

export function cpuOf(pid: number): CpuTimes {
  const fields = (path: string) => {
    const stat = readFileSync(path, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second).
    return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 };
  };
  const all = fields(`/proc/${pid}/stat`);
  const main = fields(`/proc/${pid}/task/${pid}/stat`);
  return { ...all, main: main.user + main.system };
}

/** What a process used between two readings. */
export function cpuSince(before: CpuTimes, after: CpuTimes): CpuTimes {
  return { user: after.user - before.user, system: after.system - before.system, main: after.main - before.main };
}

/**
 * Whether a process with this pid runs on this host. EPERM means it does, as
 * another user; only ESRCH (or a pid no process can have) means it is gone.
 */
export function isProcessRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

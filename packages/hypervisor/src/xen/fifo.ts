import { execFile } from "node:child_process";
import { mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/**
 * libxl reads and writes streams on file descriptors, the Hypervisor
 * interface speaks Node streams: a named pipe joins the two without holding
 * the image anywhere. Both ends are opened together (each open blocks until
 * the other side arrives).
 */
export interface Fifo {
  readEnd: FileHandle;
  writeEnd: FileHandle;
  close(): Promise<void>;
}

export async function openFifo(): Promise<Fifo> {
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-fifo-"));
  const path = join(dir, "stream");
  await promisify(execFile)("mkfifo", ["-m", "600", path]);
  const [readEnd, writeEnd] = await Promise.all([open(path, "r"), open(path, "w")]);
  return {
    readEnd,
    writeEnd,
    async close() {
      await Promise.allSettled([readEnd.close(), writeEnd.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

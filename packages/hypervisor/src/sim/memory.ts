import { open, type FileHandle } from "node:fs/promises";
import { fillPage, PAGE_SIZE } from "./content.js";

/**
 * A domain's memory: `memory.img`, one 4 KiB slot per pfn at pfn*4096. Zero
 * pages are holes, so a mostly-free 4 GiB domain costs little disk; reading a
 * hole gives zeros, which is exactly the page's content.
 */
export class DomainMemory {
  private constructor(
    private readonly fh: FileHandle,
    readonly pages: number,
  ) {}

  /** Opens an existing image. */
  static async open(path: string, pages: number): Promise<DomainMemory> {
    return new DomainMemory(await open(path, "r+"), pages);
  }

  /** Creates an all-hole image of `pages` pages. */
  static async create(path: string, pages: number): Promise<DomainMemory> {
    const fh = await open(path, "wx");
    await fh.truncate(pages * PAGE_SIZE);
    return new DomainMemory(fh, pages);
  }

  /**
   * Writes the initial content of a generated domain, 1 MiB at a time, leaving
   * zero pages as holes.
   */
  async generate(seed: number, signal?: AbortSignal): Promise<void> {
    const chunkPages = 256;
    const buf = Buffer.alloc(chunkPages * PAGE_SIZE);
    for (let first = 0; first < this.pages; first += chunkPages) {
      signal?.throwIfAborted();
      const n = Math.min(chunkPages, this.pages - first);
      // Write runs of non-zero pages; skip zero ones.
      let runStart = -1;
      for (let i = 0; i <= n; i++) {
        let zero = true;
        if (i < n) {
          const page = buf.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
          fillPage(page, seed, first + i, 0);
          zero = isZeroPage(page);
        }
        if (!zero && runStart < 0) runStart = i;
        if (zero && runStart >= 0) {
          await this.fh.write(buf, runStart * PAGE_SIZE, (i - runStart) * PAGE_SIZE, (first + runStart) * PAGE_SIZE);
          runStart = -1;
        }
      }
    }
  }

  /** Reads `count` pages starting at `pfn` into `out`. */
  async read(pfn: number, count: number, out: Uint8Array): Promise<void> {
    const len = count * PAGE_SIZE;
    let done = 0;
    while (done < len) {
      const { bytesRead } = await this.fh.read(out, done, len - done, pfn * PAGE_SIZE + done);
      // Past the end of a short file (never for our images): zeros.
      if (bytesRead === 0) {
        out.fill(0, done, len);
        break;
      }
      done += bytesRead;
    }
  }

  async write(pfn: number, page: Uint8Array): Promise<void> {
    await this.fh.write(page, 0, PAGE_SIZE, pfn * PAGE_SIZE);
  }

  async sync(): Promise<void> {
    await this.fh.sync();
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

export function isZeroPage(page: Uint8Array): boolean {
  // Compare 4 bytes at a time when aligned.
  if (page.byteOffset % 4 === 0) {
    const words = new Uint32Array(page.buffer, page.byteOffset, page.length / 4);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < page.length; i++) if (page[i] !== 0) return false;
  return true;
}

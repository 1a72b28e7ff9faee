import { readSync, writeSync } from "node:fs";
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
      // A few pages come straight from the page cache in microseconds; the
      // thread-pool round trip of an async read costs far more, and late
      // pre-copy passes read scattered pages one at a time.
      const bytesRead =
        count <= SYNC_PAGES
          ? readSync(this.fh.fd, out, done, len - done, pfn * PAGE_SIZE + done)
          : (await this.fh.read(out, done, len - done, pfn * PAGE_SIZE + done)).bytesRead;
      // Past the end of a short file (never for our images): zeros.
      if (bytesRead === 0) {
        out.fill(0, done, len);
        break;
      }
      done += bytesRead;
    }
  }

  /** Writes one page (synchronously, for the same reason as small reads). */
  async write(pfn: number, page: Uint8Array): Promise<void> {
    for (let done = 0; done < PAGE_SIZE; )
      done += writeSync(this.fh.fd, page, done, PAGE_SIZE - done, pfn * PAGE_SIZE + done);
  }

  async sync(): Promise<void> {
    await this.fh.sync();
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Reads of up to this many pages are synchronous (see read). */
const SYNC_PAGES = 16;
const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);

export function isZeroPage(page: Uint8Array): boolean {
  // A native memcmp: a byte loop in JavaScript costs microseconds per page,
  // which a receiver pays for every page of every stream.
  return page.length <= PAGE_SIZE && Buffer.compare(page, ZERO_PAGE.subarray(0, page.length)) === 0;
}

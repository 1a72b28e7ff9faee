/**
 * Buffers of one size kept for reuse, for writers that fill a pack every few
 * MiB. Memory touched for the first time costs a page fault per 4 KiB page,
 * and on a virtual machine that costs more than copying the page into it: an
 * import that takes a fresh buffer per pack pays it on every byte it stores.
 *
 * A buffer is given back only once nothing reads it any more (its pack is
 * stored: ObjectStore.put is done with its data once it settles).
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    /** The size of every buffer in the pool. */
    readonly bufferBytes: number,
    /** How many free buffers are kept; more given back are left to the GC. */
    private readonly keep: number,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.bufferBytes);
  }

  give(buffer: Buffer): void {
    if (buffer.length === this.bufferBytes && this.free.length < this.keep && !this.free.includes(buffer))
      this.free.push(buffer);
  }
}

/**
 * Reading a stream file into reusable buffers ("slots"), for imports: the
 * file is read straight into slots of SLOT_BYTES and the caller is given
 * views of them, so its bytes are neither copied nor freshly allocated.
 * The caller reads those views while it parses, and says with
 * release(offset) that it is done with every byte before a stream offset; a
 * slot is reused only once released. When every slot is held (the caller is
 * still on a long record), a new slot is added rather than waited for.
 *
 * Slots outlive their reader: a closed reader leaves them to the next one in
 * the process (up to KEPT_SLOTS), since memory touched for the first time
 * costs a page fault per page, on a virtual machine several times the cost
 * of parsing it, and a worker imports night after night.
 */
import type { FileHandle } from "node:fs/promises";

const SLOT_BYTES = 8 * 1024 * 1024;
/** Free slots kept for the next readers. */
const KEPT_SLOTS = 12;

const idle: Uint8Array[] = [];

interface Slot {
  readonly bytes: Uint8Array;
  /** Stream offset just past the slot's bytes while the caller may still read them; 0 when free. */
  heldUntil: number;
}

export class FileSlots {
  private readonly slots: Slot[] = [];
  private released = 0;
  /** Bytes read so far. */
  bytes = 0;

  /**
   * Reads an open file to its end, yielding views of the slots it reads
   * into. A view stays valid until release() is given an offset at or past
   * its end. The next read is started before a chunk is yielded, so it runs
   * while the caller parses.
   */
  async *read(file: FileHandle): AsyncGenerator<Uint8Array> {
    let next = this.readInto(file);
    try {
      for (;;) {
        const { slot, bytesRead } = await next;
        if (bytesRead === 0) {
          slot.heldUntil = 0;
          return;
        }
        this.bytes += bytesRead;
        slot.heldUntil = this.bytes;
        next = this.readInto(file);
        yield slot.bytes.subarray(0, bytesRead);
      }
    } finally {
      // The file is closed once this returns: no read may still be filling a slot.
      await next.catch(() => undefined);
    }
  }

  /** The caller is done with every byte before stream offset `offset`. */
  release(offset: number): void {
    this.released = Math.max(this.released, offset);
  }

  /** Leaves the slots to the next reader; none of their views is read afterwards. */
  close(): void {
    for (const s of this.slots.splice(0)) if (idle.length < KEPT_SLOTS) idle.push(s.bytes);
  }

  private async readInto(file: FileHandle): Promise<{ slot: Slot; bytesRead: number }> {
    const slot = this.freeSlot();
    slot.heldUntil = Number.POSITIVE_INFINITY;
    try {
      const { bytesRead } = await file.read(slot.bytes, 0, SLOT_BYTES, null);
      return { slot, bytesRead };
    } catch (err) {
      slot.heldUntil = 0;
      throw err;
    }
  }

  private freeSlot(): Slot {
    const free = this.slots.find((s) => s.heldUntil <= this.released);
    if (free !== undefined) return free;
    const slot = { bytes: idle.pop() ?? new Uint8Array(SLOT_BYTES), heldUntil: 0 };
    this.slots.push(slot);
    return slot;
  }
}

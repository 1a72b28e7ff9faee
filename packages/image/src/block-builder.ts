/**
 * Gathers one page list block during an import: raw event bytes and, per
 * page, its digest and pack handle (or -1 for a zero page). The handles are
 * turned into the block's own pack table once every pack involved is stored.
 */
import { MAX_BLOCK_PACKS, ZERO_SLOT, type PageListBlock } from "./page-list.js";
import type { PackTable } from "./pack-assembly.js";
import type { Sha256Id } from "./keys.js";

export const ZERO_HANDLE = -1;

export class BlockBuilder {
  private raw: Uint8Array[] = [];
  private rawLength = 0;
  private pieces: number[] = [];
  private digests = Buffer.alloc(32 * 2048);
  private handles = new Int32Array(2048);
  private fresh = new Uint8Array(2048);
  private count = 0;

  get pages(): number {
    return this.count;
  }

  get rawBytes(): number {
    return this.rawLength;
  }

  get empty(): boolean {
    return this.pieces.length === 0;
  }

  /** Starts a piece: these stream bytes, then the pages added next. */
  addRaw(bytes: Uint8Array): void {
    // Copied: they are views into the source's buffers, which are reused once the event is classified.
    this.raw.push(Uint8Array.prototype.slice.call(bytes));
    this.rawLength += bytes.length;
    this.pieces.push(bytes.length, 0);
  }

  /**
   * Appends pages [from, to) of a batch at once: digest i at digests[32 i..),
   * handles[i] (ZERO_HANDLE for a zero page), fresh[i] 1 when this import
   * stores the page. One copy per batch instead of one per page.
   */
  addPages(digests: Uint8Array, handles: Int32Array, fresh: Uint8Array, from: number, to: number): void {
    const n = to - from;
    this.reserve(n);
    const at = this.count;
    this.digests.set(digests.subarray(from * 32, to * 32), at * 32);
    this.handles.set(handles.subarray(from, to), at);
    this.fresh.set(fresh.subarray(from, to), at);
    for (let i = 0; i < n; i++)
      if (this.handles[at + i] === ZERO_HANDLE) this.digests.fill(0, (at + i) * 32, (at + i) * 32 + 32);
    this.count += n;
    this.pieces[this.pieces.length - 1]! += n;
  }

  private reserve(n: number): void {
    while (this.count + n > this.handles.length) this.grow();
    if (this.pieces.length === 0) this.pieces.push(0, 0); // a block that starts inside a record: no raw bytes before its pages
  }

  /**
   * Hands over what was gathered (copied out at its exact size) and starts
   * an empty block; the gathering arrays are kept for the next block, since
   * an import cuts a thousand blocks per GiB.
   */
  take(): PendingBlock {
    const n = this.count;
    const pending = new PendingBlock(
      // One piece (a long record's chunk, say) is already a copy of its own: not copied again.
      this.raw.length === 1
        ? Buffer.from(this.raw[0]!.buffer, this.raw[0]!.byteOffset, this.raw[0]!.length)
        : Buffer.concat(this.raw),
      this.rawLength,
      this.pieces,
      Buffer.from(this.digests.subarray(0, n * 32)),
      this.handles.slice(0, n),
      this.fresh.slice(0, n),
    );
    this.raw = [];
    this.rawLength = 0;
    this.pieces = [];
    this.count = 0;
    return pending;
  }

  private grow(): void {
    const digests = Buffer.alloc(this.digests.length * 2);
    this.digests.copy(digests);
    this.digests = digests;
    const handles = new Int32Array(this.handles.length * 2);
    handles.set(this.handles);
    this.handles = handles;
    const fresh = new Uint8Array(this.fresh.length * 2);
    fresh.set(this.fresh);
    this.fresh = fresh;
  }
}

export class PendingBlock {
  constructor(
    private readonly raw: Buffer,
    readonly rawBytes: number,
    private readonly pieces: number[],
    readonly digests: Buffer,
    private readonly handles: Int32Array,
    /** 1 for each page this import stored (not found already stored). */
    readonly newPages: Uint8Array,
  ) {}

  get pages(): number {
    return this.handles.length;
  }

  /** The block, once every pack it names is stored. */
  async resolve(table: PackTable): Promise<PageListBlock> {
    const distinct = [...new Set(this.handles)].filter((h) => h !== ZERO_HANDLE);
    if (distinct.length > MAX_BLOCK_PACKS) throw new RangeError(`a block names at most ${MAX_BLOCK_PACKS} packs`);
    const ids = await Promise.all(distinct.map((h) => table.resolve(h)));
    // Same pack ids in the same first-use order give the same block bytes whatever the handles were.
    const packs: Sha256Id[] = [];
    const slotOfId = new Map<string, number>();
    const slotOfHandle = new Map<number, number>();
    for (let i = 0; i < distinct.length; i++) {
      const id = ids[i]!;
      let slot = slotOfId.get(id);
      if (slot === undefined) {
        slot = packs.length;
        packs.push(id);
        slotOfId.set(id, slot);
      }
      slotOfHandle.set(distinct[i]!, slot);
    }
    const slots = new Uint16Array(this.handles.length);
    for (let i = 0; i < this.handles.length; i++) {
      const h = this.handles[i]!;
      slots[i] = h === ZERO_HANDLE ? ZERO_SLOT : slotOfHandle.get(h)!;
    }
    return { packs, pieces: Uint32Array.from(this.pieces), digests: this.digests, slots, raw: this.raw };
  }
}

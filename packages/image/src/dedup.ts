/**
 * A dedup session: what one import knows about pages already stored, with
 * memory bounded by the image being written, never by the store.
 *
 * It holds a DigestTable (digest -> pack handle) filled from
 * - the parent image's whole page list (the previous night of the same
 *   domain: the usual source of dedup), loaded at the start;
 * - champions: for a segment of incoming pages that the table mostly
 *   misses, the few blocks anywhere in the store that together share the
 *   most hooks with it (hooks.ts), e.g. the template a clone was made from;
 * - the import's own new pages, so a page repeated within the image is
 *   stored once.
 * Pages in packs marked damaged (quarantine.ts) are never dedup targets.
 */
import { PAGE_SAME, PAGE_ZERO } from "@xenfleet/native";
import { getContent, ObjectNotFoundError, type ObjectStore } from "@xenfleet/store";
import { DigestTable } from "./digest-table.js";
import { blocksSharingHooks, hookName, hooksOf, pickChampions, smallestPage } from "./hooks.js";
import type { Sha256Id } from "./keys.js";
import type { Manifest } from "./manifest.js";
import { PackTable } from "./pack-assembly.js";
import { BLOCK_TARGET_PAGES, decodeBlock, ZERO_SLOT, type PageListBlock } from "./page-list.js";

export interface DedupOptions {
  /** Champion blocks loaded per segment (default 8: a segment of 1024 pages spans 4 blocks of a similar image). */
  readonly champions?: number;
}

/** Parent page list blocks read at once while loadImage adds them in order. */
const PARENT_READ_AHEAD = 16;

export class DedupSession {
  readonly index: DigestTable;
  readonly packs = new PackTable();
  private readonly loaded = new Set<string>();
  private readonly champions: number;
  /** Segments to skip consulting after a consult that found nothing (backs off on stores with nothing alike). */
  private skip = 0;
  private fruitless = 0;
  championBlocksLoaded = 0;

  private readonly damagedPacks: ReadonlySet<string>;

  constructor(
    private readonly store: ObjectStore,
    options: DedupOptions & { expectedPages?: number; damagedPacks?: ReadonlySet<string> } = {},
  ) {
    this.champions = options.champions ?? 8;
    this.damagedPacks = options.damagedPacks ?? new Set();
    this.index = new DigestTable(options.expectedPages ?? 4096);
  }

  /**
   * The parent's pages in stream order: digest k at parentDigests[32 k..)
   * (all zero for a zero page or a page of a missing block) and its pack
   * handle at parentHandles[k]. An incremental save mostly repeats the
   * parent page for page, so a page is first compared with the parent's
   * page at the same position, which needs no index lookup.
   */
  parentDigests = new Uint8Array(0);
  parentHandles = new Int32Array(0);
  /** Blocks read from the store in this session: they exist, so storing identical bytes again is skipped. */
  readonly present = new Set<string>();

  /** Loads every block of an image (the parent). Missing blocks only cost dedup. */
  async loadImage(manifest: Manifest): Promise<void> {
    this.parentDigests = new Uint8Array(manifest.pages * 32);
    this.parentHandles = new Int32Array(manifest.pages).fill(-1);
    const refs = manifest.blocks;
    // Blocks are read PARENT_READ_AHEAD ahead of the one being added, not in
    // batches: a batch waits for its slowest read before the next starts,
    // and a parent of a thousand blocks would pay that wait dozens of times.
    const reads = new Map<string, Promise<PageListBlock | undefined>>();
    let ahead = 0;
    let page = 0;
    for (let i = 0; i < refs.length; i++) {
      for (; ahead < Math.min(refs.length, i + PARENT_READ_AHEAD); ahead++) {
        const id = refs[ahead]!.id;
        if (reads.has(id)) continue;
        const read = this.fetchBlock(id);
        read.catch(() => {}); // awaited in order below; a failure surfaces there
        reads.set(id, read);
      }
      const ref = refs[i]!;
      const block = await reads.get(ref.id)!;
      if (block !== undefined && page + block.slots.length <= manifest.pages) {
        const handles = this.addBlock(block);
        for (let j = 0; j < block.slots.length; j++) {
          const slot = block.slots[j]!;
          const handle = slot === ZERO_SLOT ? -1 : handles[slot]!;
          this.parentHandles[page + j] = handle;
          // A page in a damaged pack keeps an all-zero digest: never "same as the parent".
          if (slot === ZERO_SLOT || handle >= 0)
            this.parentDigests.set(block.digests.subarray(j * 32, j * 32 + 32), (page + j) * 32);
        }
      }
      page += ref.pages;
    }
  }

  /**
   * Called with a segment's digests and flags (PAGE_ZERO, PAGE_SAME as the
   * parent's page at that position, or PAGE_OTHER) before its pages are
   * classified. When more than a tenth of its non-zero pages are unknown,
   * asks the hook index for champion blocks and loads them.
   *
   * Only the unknown pages are asked about: the hooks of pages the table
   * already holds lead to blocks already loaded (the parent's, on a nightly
   * save), and each hook is a store listing. Likewise only the block-sized
   * windows whose smallest digest is an unknown page ask for it (below).
   */
  async prepareSegment(digests: Uint8Array, flags: Uint8Array, count: number, firstPage = 0): Promise<void> {
    const unknown = new Uint8Array(count);
    let nonZero = 0;
    let misses = 0;
    for (let i = 0; i < count; i++) {
      const flag = flags[i];
      if (flag === PAGE_ZERO) continue;
      nonZero++;
      if (flag !== PAGE_SAME && !this.index.has(digests, i * 32)) {
        unknown[i] = 1;
        misses++;
      }
    }
    if (misses === 0 || misses * 10 < nonZero) return;
    if (this.skip > 0) {
      this.skip--;
      return;
    }
    const hooks = new Set(hooksOf(digests, 0, count, unknown));
    // The smallest digest of each block-aligned window: the hook every block
    // has. Asked only where that page is itself unknown: a known one leads
    // to blocks holding a page the table already has (on a nightly save, the
    // parent's block and older copies of it), which rarely hold the window's
    // changed pages, and each would be read to find that out.
    for (let start = 0; start < count; ) {
      const end = Math.min(count, start + BLOCK_TARGET_PAGES - ((firstPage + start) % BLOCK_TARGET_PAGES));
      const page = smallestPage(digests, start, end, (i) => flags[i] === PAGE_ZERO);
      if (page !== undefined && unknown[page] === 1) hooks.add(hookName(digests, page));
      start = end;
    }
    if (hooks.size === 0) return;
    const shared = await blocksSharingHooks(this.store, [...hooks]);
    const best = pickChampions(shared, this.champions, (id) => this.loaded.has(id));
    const blocks = await Promise.all(best.map((id) => this.fetchBlock(id)));
    let found = 0;
    for (const block of blocks) {
      if (block === undefined) continue;
      this.addBlock(block);
      this.championBlocksLoaded++;
      found++;
    }
    // A consult that loaded nothing new (the unknown pages are new to the
    // store, as a night's changes mostly are) makes the next ones wait.
    if (found === 0) {
      this.fruitless = Math.min(this.fruitless + 1, 3);
      this.skip = this.fruitless;
    } else {
      this.fruitless = 0;
    }
  }

  private async fetchBlock(id: Sha256Id): Promise<PageListBlock | undefined> {
    if (this.loaded.has(id)) return undefined;
    this.loaded.add(id);
    try {
      const block = decodeBlock(`blocks/${id}`, await getContent(this.store, "blocks", id));
      this.present.add(id);
      return block;
    } catch (err) {
      // A hook may outlive its block (a swept image); the block is then simply no champion.
      if (err instanceof ObjectNotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * Adds a block's pages to the index; returns the pack handle of each of
   * its pack slots, -1 for a damaged pack, whose pages are left out: the
   * import stores them anew, which is how a store heals.
   */
  private addBlock(block: PageListBlock): number[] {
    const handles = block.packs.map((p) => (this.damagedPacks.has(p) ? -1 : this.packs.known(p)));
    for (let i = 0; i < block.slots.length; i++) {
      const slot = block.slots[i]!;
      if (slot === ZERO_SLOT || handles[slot]! < 0) continue;
      this.index.add(block.digests, i * 32, handles[slot]!);
    }
    return handles;
  }
}

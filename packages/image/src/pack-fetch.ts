/**
 * Reading pages out of packs for an export, fast and with bounded memory.
 * Pack ids are resolved through forwards once per export. A pack from which
 * a block needs many pages is fetched whole (one GET), its structure checked,
 * decoded once (one decompression per frame) and kept in a small LRU cache,
 * since the next blocks usually need it too; a pack from which only a few
 * pages are needed is read by range, entry by entry. Pages are handed out
 * as views of what was fetched, never copied. A whole pack is not hashed as
 * a whole: the exporter checks every page it uses against its digest, which
 * is what the pack's own checksums would have told, and only for the pages
 * used.
 *
 * If a pack has vanished, it may have been rewritten and its old copy
 * deleted after the grace period since the id was resolved: the id is
 * resolved again and the read retried once before the pack is reported
 * missing.
 */
import { blake3, PAGE_SIZE } from "@xenfleet/native";
import { CorruptObjectError, ObjectNotFoundError, PackReader, type ObjectStore } from "@xenfleet/store";
import { resolvePack } from "./forwards.js";
import { packKey, type Sha256Id } from "./keys.js";

/** Pages wanted from one pack at or above which the whole pack is fetched. */
export const WHOLE_PACK_THRESHOLD = 32;

interface WholePack {
  readonly frames: readonly Buffer[];
  readonly entries: ReadonlyMap<
    string,
    { readonly frame: number; readonly offsetInFrame: number; readonly length: number }
  >;
}

function notAPage(pack: Sha256Id, id: string, length: number): CorruptObjectError {
  return new CorruptObjectError(packKey(pack), `entry ${id} is ${length} bytes, not a page`);
}

export class PackFetcher {
  private readonly resolved = new Map<Sha256Id, Promise<Sha256Id>>();
  private readonly whole = new Map<Sha256Id, Promise<WholePack>>();
  private readonly ranged = new Map<Sha256Id, Promise<PackReader>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly options: { cachedPacks?: number } = {},
  ) {}

  /**
   * Finds the entries of `pack` with these ids (hex digests): entry k is
   * `length` bytes at `at[k]` in `sources[k]`, a buffer of what was fetched
   * (a pack's frame, or one entry read by range). Nothing is copied, and no
   * view is made per entry.
   */
  async fetch(pack: Sha256Id, ids: readonly string[]): Promise<{ sources: Uint8Array[]; at: number[] }> {
    try {
      return await this.fetchFrom(await this.resolve(pack), ids);
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError)) throw err;
      this.forget(pack);
      const again = await this.resolve(pack);
      return await this.fetchFrom(again, ids);
    }
  }

  private async fetchFrom(current: Sha256Id, ids: readonly string[]): Promise<{ sources: Uint8Array[]; at: number[] }> {
    if (ids.length >= WHOLE_PACK_THRESHOLD || this.whole.has(current)) {
      const pack = await this.cached(this.whole, current, () => this.loadWhole(current));
      const sources: Uint8Array[] = [];
      const at: number[] = [];
      for (const id of ids) {
        const entry = pack.entries.get(id);
        if (entry === undefined) throw new CorruptObjectError(packKey(current), `holds no entry ${id}`);
        if (entry.length !== PAGE_SIZE) throw notAPage(current, id, entry.length);
        sources.push(pack.frames[entry.frame]!);
        at.push(entry.offsetInFrame);
      }
      return { sources, at };
    }
    const reader = await this.cached(this.ranged, current, () =>
      PackReader.open(this.store, current, { hashers: { blake3 } }),
    );
    const sources = await Promise.all(ids.map((id) => reader.read(id)));
    sources.forEach((data, k) => {
      if (data.length !== PAGE_SIZE) throw notAPage(current, ids[k]!, data.length);
    });
    return { sources, at: sources.map(() => 0) };
  }

  /** A whole pack: its frames' raw bytes and where each entry lies in them. */
  private async loadWhole(id: Sha256Id): Promise<WholePack> {
    const bytes = await this.store.get(packKey(id));
    // Its structure is checked here; each page is checked against its digest by the exporter.
    const reader = PackReader.fromBytes(id, bytes, { checkWhole: false });
    const frames = await Promise.all(reader.frames.map((_, i) => reader.frame(i)));
    return { frames, entries: new Map(reader.entries.map((e) => [e.id, e])) };
  }

  private resolve(pack: Sha256Id): Promise<Sha256Id> {
    let r = this.resolved.get(pack);
    if (r === undefined) {
      r = resolvePack(this.store, pack);
      this.resolved.set(pack, r);
      r.catch(() => this.resolved.delete(pack));
    }
    return r;
  }

  private forget(pack: Sha256Id): void {
    const r = this.resolved.get(pack);
    this.resolved.delete(pack);
    void r?.then(
      (id) => {
        this.whole.delete(id);
        this.ranged.delete(id);
      },
      () => {},
    );
  }

  /** A small LRU over promises (Map keeps insertion order; a hit moves the key to the end). */
  private cached<T>(cache: Map<Sha256Id, Promise<T>>, id: Sha256Id, load: () => Promise<T>): Promise<T> {
    let p = cache.get(id);
    if (p !== undefined) {
      cache.delete(id);
      cache.set(id, p);
      return p;
    }
    p = load();
    cache.set(id, p);
    p.catch(() => cache.delete(id));
    const limit = this.options.cachedPacks ?? 8;
    while (cache.size > limit) cache.delete(cache.keys().next().value!);
    return p;
  }
}

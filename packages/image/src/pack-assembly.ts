/**
 * Pack assembly: new pages of an import go into packs of a few MiB
 * (PackWriter from @xenfleet/store), each stored as soon as it is full while
 * the import goes on, a few at a time. A page's pack id is known only once
 * its pack is finished, so pages are tied to a *handle* in a PackTable and
 * the page list block that needs the id waits for it.
 */
import {
  BufferPool,
  DEFAULT_PACK_TARGET_BYTES,
  PackWriter,
  packRoom,
  type Compression,
  type ContentId,
  type ObjectStore,
} from "@xenfleet/store";
import type { Sha256Id } from "./keys.js";

/** The packs an import refers to, known ones (from the parent or champions) and ones being written, by small integer handle. */
export class PackTable {
  private readonly ids: Array<Sha256Id | undefined> = [];
  private readonly waits: Array<Promise<Sha256Id> | undefined> = [];
  private readonly byId = new Map<string, number>();

  /** The handle of a pack that exists. */
  known(id: Sha256Id): number {
    let handle = this.byId.get(id);
    if (handle === undefined) {
      handle = this.ids.length;
      this.ids.push(id);
      this.waits.push(undefined);
      this.byId.set(id, handle);
    }
    return handle;
  }

  /** The handle of a pack being written; its id arrives with `written`. */
  pending(written: Promise<Sha256Id>): number {
    const handle = this.ids.length;
    this.ids.push(undefined);
    this.waits.push(
      written.then((id) => {
        this.ids[handle] = id;
        if (!this.byId.has(id)) this.byId.set(id, handle);
        return id;
      }),
    );
    // Failures surface through resolve(); this only keeps them from being reported as unhandled.
    this.waits[handle]!.catch(() => {});
    return handle;
  }

  async resolve(handle: number): Promise<Sha256Id> {
    const id = this.ids[handle];
    if (id !== undefined) return id;
    const wait = this.waits[handle];
    if (wait === undefined) throw new RangeError(`no pack handle ${handle}`);
    return wait;
  }
}

/**
 * Pack buffers shared by the imports of this process, which fill one pack
 * after another (a pack being filled and the few being stored).
 */
const PACK_BUFFERS = new BufferPool(packRoom(DEFAULT_PACK_TARGET_BYTES), 6);

export interface AssemblerStats {
  packs: number;
  packsCreated: number;
  bytesCreated: number;
}

export class PackAssembler {
  private writer: PackWriter | undefined;
  private handle = -1;
  private settle: ((id: Sha256Id) => void) | undefined;
  private fail: ((err: unknown) => void) | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private firstError: unknown;
  readonly stats: AssemblerStats = { packs: 0, packsCreated: 0, bytesCreated: 0 };

  constructor(
    private readonly store: ObjectStore,
    private readonly table: PackTable,
    private readonly options: { compression: Compression; targetBytes?: number; concurrency?: number },
  ) {}

  /** Adds a new page (digest at digests[offset..+32)); returns the handle of the pack it goes into. */
  add(digests: Uint8Array, offset: number, page: Uint8Array): number {
    if (this.writer === undefined) {
      this.writer = new PackWriter({
        entryHash: "blake3",
        compression: this.options.compression,
        targetBytes: this.options.targetBytes ?? DEFAULT_PACK_TARGET_BYTES,
        buffers: PACK_BUFFERS,
      });
      this.handle = this.table.pending(
        new Promise<Sha256Id>((resolve, reject) => {
          this.settle = resolve;
          this.fail = reject;
        }),
      );
    }
    const id = Buffer.from(digests.buffer, digests.byteOffset + offset, 32).toString("hex") as ContentId;
    this.writer.add(id, page);
    const handle = this.handle;
    if (this.writer.isFull()) this.flush();
    return handle;
  }

  /** Waits while too many packs are being stored (backpressure for the caller's loop); rethrows a failed store. */
  async drain(): Promise<void> {
    while (this.inFlight.size >= (this.options.concurrency ?? 4)) await Promise.race(this.inFlight);
    if (this.firstError !== undefined) throw this.firstError;
  }

  /** Stores the last, partial pack and waits for every pack to be stored. */
  async finish(): Promise<void> {
    this.flush();
    await Promise.all(this.inFlight);
    if (this.firstError !== undefined) throw this.firstError;
  }

  /**
   * After a failed import: the pack being filled is never stored (blocks
   * waiting for its id fail with `reason`); resolves once every pack put
   * already started has settled.
   */
  async abandon(reason: unknown): Promise<void> {
    if (this.writer !== undefined) {
      this.writer = undefined;
      this.fail!(reason);
    }
    await Promise.allSettled(this.inFlight);
  }

  private flush(): void {
    const writer = this.writer;
    const settle = this.settle!;
    const fail = this.fail!;
    this.writer = undefined;
    if (writer === undefined || writer.entryCount === 0) return;
    const pack = writer.finish();
    this.stats.packs++;
    const put = this.store.put(pack.key, pack.bytes).then(
      ({ created }) => {
        if (created) {
          this.stats.packsCreated++;
          this.stats.bytesCreated += pack.bytes.length;
        }
        settle(pack.id);
      },
      (err: unknown) => {
        this.firstError ??= err;
        fail(err);
      },
    );
    const tracked = put.finally(() => {
      this.inFlight.delete(tracked);
      pack.release(); // the store is done with the bytes once its put settled
    });
    this.inFlight.add(tracked);
  }
}

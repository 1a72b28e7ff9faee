import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  BufferPool,
  COMPRESSIONS,
  CorruptObjectError,
  MemoryStore,
  ObjectNotFoundError,
  PackEntryNotFoundError,
  PackReader,
  PackWriter,
  packRoom,
  UnsupportedPackError,
  packFormat,
  recompressPack,
  sha256Id,
  writePack,
  type ContentId,
  type FinishedPack,
} from "@xenfleet/store";

const { ENTRY_RECORD, FRAME_RECORD, HEADER, TRAILER } = packFormat;

/** Pages that compress (repeated patterns) and some that do not, named by SHA-256. */
function pages(count: number): Array<{ id: ContentId<"sha256">; data: Buffer }> {
  return Array.from({ length: count }, (_, i) => {
    const data = i % 3 === 0 ? randomBytes(4096) : Buffer.alloc(4096, `page ${i} `);
    return { id: sha256Id(data), data };
  });
}

function buildPack(
  compression: (typeof COMPRESSIONS)[number],
  count = 40,
): { pack: FinishedPack; input: ReturnType<typeof pages> } {
  const input = pages(count);
  const writer = new PackWriter({ entryHash: "sha256", compression, frameEntries: 16 });
  for (const page of input) expect(writer.add(page.id, page.data)).toBe(true);
  return { pack: writer.finish(), input };
}

/** Rewrites the trailer's pack checksum so that a hand-edited pack passes that check and reaches the one under test. */
function reseal(bytes: Buffer): Buffer {
  const at = bytes.length - TRAILER.size + TRAILER.packChecksum;
  createHash("sha256").update(bytes.subarray(0, at)).digest().copy(bytes, at);
  return bytes;
}

/** Rewrites the index checksum after editing the index. */
function resealIndex(bytes: Buffer): Buffer {
  const trailerAt = bytes.length - TRAILER.size;
  const indexOffset = Number(bytes.readBigUInt64LE(trailerAt + TRAILER.indexOffset));
  createHash("sha256")
    .update(bytes.subarray(indexOffset, trailerAt))
    .digest()
    .copy(bytes, trailerAt + TRAILER.indexChecksum);
  return reseal(bytes);
}

function flip(bytes: Buffer, at: number): void {
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
}

function openBytes(bytes: Buffer): PackReader {
  return PackReader.fromBytes(sha256Id(bytes), bytes);
}

describe("pack layout", () => {
  it("pins the sizes and field offsets of header, frame, entry and trailer", () => {
    expect(HEADER).toEqual({
      size: 16,
      magic: 0,
      version: 8,
      byteOrder: 9,
      compression: 10,
      entryHash: 11,
      reserved: 12,
    });
    expect(FRAME_RECORD).toEqual({ size: 16, offset: 0, storedLength: 8, rawLength: 12 });
    expect(ENTRY_RECORD).toEqual({ size: 48, id: 0, frame: 32, offsetInFrame: 36, length: 40, reserved: 44 });
    expect(TRAILER).toEqual({
      size: 88,
      indexOffset: 0,
      frameCount: 8,
      entryCount: 12,
      indexChecksum: 16,
      magic: 48,
      packChecksum: 56,
    });
  });

  it("writes the header it documents", () => {
    const { pack } = buildPack("zstd", 1);
    expect(pack.bytes.subarray(0, 8).toString("latin1")).toBe("XFLTPACK");
    expect([...pack.bytes.subarray(8, 16)]).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    expect(pack.bytes.subarray(pack.bytes.length - 40, pack.bytes.length - 32).toString("latin1")).toBe("XFLTPEND");
  });

  it("an uncompressed pack is header + raw entries + index + trailer, byte for byte", () => {
    const { pack, input } = buildPack("none", 20);
    const frames = Math.ceil(20 / 16);
    expect(pack.bytes.length).toBe(
      HEADER.size + 20 * 4096 + frames * FRAME_RECORD.size + 20 * ENTRY_RECORD.size + TRAILER.size,
    );
    expect(pack.bytes.subarray(HEADER.size, HEADER.size + 4096).equals(input[0]!.data)).toBe(true);
  });
});

describe.each(COMPRESSIONS)("pack round trip (%s)", (compression) => {
  it("reads every entry back through the store by range, and all in order", async () => {
    const store = new MemoryStore();
    const { pack, input } = buildPack(compression);
    expect(pack.key).toBe(`packs/${pack.id.slice(0, 2)}/${pack.id}`);
    expect(await writePack(store, pack)).toEqual({ created: true });
    const reader = await PackReader.open(store, pack.id);
    expect(reader.compression).toBe(compression);
    expect(reader.entryHash).toBe("sha256");
    expect(reader.entries.length).toBe(input.length);
    for (const page of [...input].reverse()) expect((await reader.read(page.id)).equals(page.data)).toBe(true);
    const all: string[] = [];
    for await (const entry of reader.readAll()) all.push(entry.id);
    expect(all).toEqual(input.map((p) => p.id));
    expect(PackReader.fromBytes(pack.id, pack.bytes).entries.length).toBe(input.length);
  });

  it("an entry it does not hold is PackEntryNotFoundError naming pack and entry", async () => {
    const { pack } = buildPack(compression, 2);
    const other = sha256Id(Buffer.from("absent"));
    const error = await openBytes(pack.bytes)
      .read(other)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PackEntryNotFoundError);
    expect((error as Error).message).toContain(pack.id);
    expect((error as Error).message).toContain(other);
  });

  it("a flipped byte in an entry's frame is CorruptObjectError naming the pack", async () => {
    const store = new MemoryStore();
    const { pack, input } = buildPack(compression, 3);
    const bad = Buffer.from(pack.bytes);
    flip(bad, HEADER.size + 5); // inside frame 0, which holds every entry here
    // Stored under the good pack's key, as bit rot would leave it.
    await store.put(pack.key, bad);
    const reader = await PackReader.open(store, pack.id);
    const error = await reader.read(input[0]!.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptObjectError);
    expect((error as CorruptObjectError).key).toBe(pack.key);
    expect(() => PackReader.fromBytes(pack.id, bad)).toThrow(CorruptObjectError);
  });
});

describe("pack writer", () => {
  it("refuses a second entry with the same id and reports when full", () => {
    const writer = new PackWriter({ entryHash: "sha256", targetBytes: 8192 });
    const [a, b] = pages(2);
    expect(writer.add(a!.id, a!.data)).toBe(true);
    expect(writer.add(a!.id, a!.data)).toBe(false);
    expect(writer.isFull()).toBe(false);
    writer.add(b!.id, b!.data);
    expect(writer.isFull()).toBe(true);
    expect(writer.entryCount).toBe(2);
  });

  it("writes the same bytes for the same entries (a retried pack gets the same key)", () => {
    const input = pages(5);
    const write = () => {
      const writer = new PackWriter({ entryHash: "sha256", compression: "zstd" });
      for (const p of input) writer.add(p.id, p.data);
      return writer.finish().id;
    };
    expect(write()).toBe(write());
  });

  it("holds an empty pack", async () => {
    const pack = new PackWriter({ entryHash: "blake3" }).finish();
    expect(openBytes(pack.bytes).entries).toEqual([]);
  });

  it.each(COMPRESSIONS)(
    "with a buffer pool (%s): the same pack, and its buffer reused once released",
    (compression) => {
      const input = pages(40);
      const pool = new BufferPool(packRoom(64 * 1024), 2);
      const write = (buffers?: BufferPool) => {
        const writer = new PackWriter({
          entryHash: "sha256",
          compression,
          targetBytes: 64 * 1024,
          ...(buffers ? { buffers } : {}),
        });
        for (const p of input) writer.add(p.id, p.data);
        return writer.finish();
      };
      const plain = write();
      const pooled = write(pool);
      expect(pooled.id).toBe(plain.id);
      expect(pooled.bytes.equals(plain.bytes)).toBe(true);
      const reader = openBytes(pooled.bytes);
      expect(reader.entries.map((e) => e.id)).toEqual(input.map((p) => p.id));
      pooled.release();
      // The next pack is written into the buffer the first one was stored from.
      const next = write(pool);
      expect(next.id).toBe(plain.id);
      if (compression === "none") expect(next.bytes.buffer).toBe(pooled.bytes.buffer);
    },
  );

  it("with a buffer pool, a pack that outgrows its pooled buffer moves to a larger one and is still whole", () => {
    const input = pages(40); // 160 KiB of entries, past the pooled buffer's 4 KiB target and its slack
    const pool = new BufferPool(packRoom(4096), 2);
    const writer = new PackWriter({ entryHash: "sha256", targetBytes: 4096, buffers: pool });
    for (const p of input) writer.add(p.id, p.data);
    const pack = writer.finish();
    const plain = new PackWriter({ entryHash: "sha256", targetBytes: 4096 });
    for (const p of input) plain.add(p.id, p.data);
    expect(pack.id).toBe(plain.finish().id);
    expect(openBytes(pack.bytes).entries).toHaveLength(40);
    pack.release(); // not the pool's size: left to the garbage collector
    expect(pool.take().length).toBe(packRoom(4096));
  });
});

describe("hostile packs are refused with a typed error, never a crash or a large allocation", () => {
  const good = buildPack("zstd", 20).pack.bytes;
  const trailerAt = good.length - TRAILER.size;
  const indexOffset = Number(good.readBigUInt64LE(trailerAt + TRAILER.indexOffset));
  const entriesAt = indexOffset + 2 * FRAME_RECORD.size;

  const edit =
    (fn: (b: Buffer) => void, seal: (b: Buffer) => Buffer = reseal) =>
    () => {
      const b = Buffer.from(good);
      fn(b);
      return seal(b);
    };

  const cases: Array<[string, () => Buffer, new (...args: never[]) => Error, RegExp]> = [
    ["empty", () => Buffer.alloc(0), CorruptObjectError, /truncated/],
    ["shorter than header and trailer", () => good.subarray(0, 50), CorruptObjectError, /truncated/],
    ["cut in the middle", () => good.subarray(0, good.length - 1000), CorruptObjectError, /magic|checksum/],
    ["bad magic", edit((b) => b.write("NOTAPACK", 0, "latin1")), CorruptObjectError, /bad magic/],
    ["unknown version", edit((b) => b.writeUInt8(2, HEADER.version)), UnsupportedPackError, /version 2/],
    ["big-endian byte order", edit((b) => b.writeUInt8(2, HEADER.byteOrder)), UnsupportedPackError, /byte order/],
    [
      "unknown compression",
      edit((b) => b.writeUInt8(9, HEADER.compression)),
      UnsupportedPackError,
      /compression code 9/,
    ],
    ["unknown entry hash", edit((b) => b.writeUInt8(7, HEADER.entryHash)), UnsupportedPackError, /entry hash code 7/],
    ["reserved header bits", edit((b) => b.writeUInt32LE(1, HEADER.reserved)), CorruptObjectError, /reserved/],
    [
      "bad trailer magic",
      edit((b) => b.write("XXXXXXXX", trailerAt + TRAILER.magic, "latin1")),
      CorruptObjectError,
      /trailer magic/,
    ],
    [
      "pack checksum mismatch",
      edit(
        (b) => flip(b, 20),
        (b) => b,
      ),
      CorruptObjectError,
      /pack checksum/,
    ],
    [
      "entry count of 4 billion",
      edit((b) => b.writeUInt32LE(0xffffffff, trailerAt + TRAILER.entryCount)),
      CorruptObjectError,
      /entry count/,
    ],
    [
      "entry count one too many",
      edit((b) => b.writeUInt32LE(21, trailerAt + TRAILER.entryCount)),
      CorruptObjectError,
      /does not end at the trailer/,
    ],
    [
      "frame count above entry count",
      edit((b) => b.writeUInt32LE(1000, trailerAt + TRAILER.frameCount)),
      CorruptObjectError,
      /frame count/,
    ],
    [
      "index offset past the end",
      edit((b) => b.writeBigUInt64LE(2n ** 60n, trailerAt + TRAILER.indexOffset)),
      CorruptObjectError,
      /does not end/,
    ],
    [
      "index checksum mismatch",
      edit((b) => flip(b, entriesAt + ENTRY_RECORD.length)),
      CorruptObjectError,
      /index checksum/,
    ],
    [
      "frame claims 4 GiB raw",
      edit((b) => b.writeUInt32LE(0xffffffff, indexOffset + FRAME_RECORD.rawLength), resealIndex),
      CorruptObjectError,
      /raw bytes/,
    ],
    [
      "frame offset out of order",
      edit((b) => b.writeBigUInt64LE(17n, indexOffset + FRAME_RECORD.offset), resealIndex),
      CorruptObjectError,
      /starts at 17/,
    ],
    [
      "entry length past its frame",
      edit((b) => b.writeUInt32LE(1 << 30, entriesAt + ENTRY_RECORD.length), resealIndex),
      CorruptObjectError,
      /out of place/,
    ],
    [
      "entry in a frame that does not exist",
      edit((b) => b.writeUInt32LE(99, entriesAt + ENTRY_RECORD.frame), resealIndex),
      CorruptObjectError,
      /out of place/,
    ],
    [
      "duplicate entry id",
      edit((b) => b.copy(b, entriesAt + ENTRY_RECORD.size, entriesAt, entriesAt + 32), resealIndex),
      CorruptObjectError,
      /twice/,
    ],
    [
      "reserved entry bits",
      edit((b) => b.writeUInt32LE(1, entriesAt + ENTRY_RECORD.reserved), resealIndex),
      CorruptObjectError,
      /reserved/,
    ],
  ];

  it.each(cases)("%s", (_label, make, errorClass, message) => {
    const bytes = make();
    const id = sha256Id(bytes);
    let error: unknown;
    try {
      PackReader.fromBytes(id, bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(errorClass);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(id);
  });

  it("a zstd frame whose declared size lies is caught before decompressing", async () => {
    const bytes = Buffer.from(good);
    // Frame 0's raw length shrunk by one: the zstd frame still declares the real size.
    const raw = bytes.readUInt32LE(indexOffset + FRAME_RECORD.rawLength);
    bytes.writeUInt32LE(raw - 1, indexOffset + FRAME_RECORD.rawLength);
    // Keep the entries tiling the frame: the last entry of frame 0 loses a byte.
    const lastOfFrame0 = entriesAt + 15 * ENTRY_RECORD.size;
    bytes.writeUInt32LE(bytes.readUInt32LE(lastOfFrame0 + ENTRY_RECORD.length) - 1, lastOfFrame0 + ENTRY_RECORD.length);
    resealIndex(bytes);
    const reader = openBytes(bytes);
    const error = await reader.read(reader.entries[0]!.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptObjectError);
    expect((error as Error).message).toMatch(/declares \d+ bytes, expected/);
  });

  it("a missing pack is ObjectNotFoundError naming its key", async () => {
    const id = sha256Id(Buffer.from("no pack"));
    const error = await PackReader.open(new MemoryStore(), id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectNotFoundError);
    expect((error as ObjectNotFoundError).key).toContain(id);
  });

  it("a range-read pack with blake3 ids needs a blake3 hasher", async () => {
    const store = new MemoryStore();
    const writer = new PackWriter({ entryHash: "blake3" });
    writer.add(sha256Id(Buffer.from("x")), Buffer.from("x"));
    const pack = writer.finish();
    await writePack(store, pack);
    await expect(PackReader.open(store, pack.id)).rejects.toBeInstanceOf(UnsupportedPackError);
    // A stand-in hasher (SHA-256 here, since the ids above are SHA-256 digests) makes it readable.
    const reader = await PackReader.open(store, pack.id, {
      hashers: { blake3: (d) => createHash("sha256").update(d).digest() },
    });
    expect((await reader.read(reader.entries[0]!.id)).toString()).toBe("x");
  });
});

describe("recompressPack", () => {
  it.each(["zstd", "lz4"] as const)(
    "rewrites an uncompressed pack with %s under a new key, leaving the old one",
    async (compression) => {
      const store = new MemoryStore();
      const { pack, input } = buildPack("none", 40);
      await writePack(store, pack);
      const result = await recompressPack(store, pack.id, compression);
      expect(result.id).not.toBe(pack.id);
      expect(result.created).toBe(true);
      expect(await store.head(pack.key)).toBeDefined();
      const reader = await PackReader.open(store, result.id);
      expect(reader.compression).toBe(compression);
      expect((await store.head(result.key))!.size).toBeLessThan(pack.bytes.length);
      for (const page of input) expect((await reader.read(page.id)).equals(page.data)).toBe(true);
      // Rerunning (a retried job) finds the same pack already written.
      expect(await recompressPack(store, pack.id, compression)).toMatchObject({ id: result.id, created: false });
    },
  );

  it("refuses to recompress a corrupt pack, naming it", async () => {
    const store = new MemoryStore();
    const { pack } = buildPack("none", 4);
    const bad = Buffer.from(pack.bytes);
    flip(bad, 100);
    await store.put(pack.key, bad);
    const error = await recompressPack(store, pack.id, "zstd").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptObjectError);
    expect((error as CorruptObjectError).key).toBe(pack.key);
  });
});

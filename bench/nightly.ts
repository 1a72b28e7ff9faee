/**
 * Nightly incremental saves of one synthetic domain (1 GiB by default),
 * six nights, 5% of its pages changed between nights (in runs, as working
 * sets are), with a realistic page mix: zero, text-like, structured
 * (pointer and counter tables) and random (compressed or encrypted data).
 *
 * Each night's stream is written to one file, then backed up, side by side
 * in the same run, by
 *   - xenfleet: importImage into a filesystem store (packs uncompressed, as
 *     the save path writes them), then compressImage with zstd as the
 *     compress workers would, and gc to drop the rewritten packs;
 *   - restic (`restic backup`, defaults);
 *   - borg (`borg create --compression zstd,3`, default chunker);
 *   - borg tuned to pages (`--chunker-params fixed,4096`).
 * Reports per night the bytes each store grew by and the backup time, and
 * the ideal bounds: unique non-zero pages x 4 KiB, and those pages
 * compressed with zstd -3 in 1 MiB groups. One JSON line.
 *
 * With BENCH_NIGHTLY_ENCRYPTED=1 (the default), the same nights are also
 * imported, compressed and collected in a second store behind an
 * EncryptedStore, the two imports of a night in alternating order: import
 * time encrypted over plain, and the two stores' stored bytes (dedup works
 * within a key, so they should differ only by the encryption's headers and
 * tags).
 *
 * Targets: after the last night, xenfleet's compressed store <= 0.9x borg
 * fixed-4K's repository and its raw store <= 1.1x the uncompressed ideal;
 * every incremental night's import <= 0.35x borg fixed-4K's time; the
 * encrypted imports <= 1.10x the plain ones' time.
 *
 * Options (env): BENCH_NIGHTLY_MIB (default 1024), BENCH_NIGHTLY_NIGHTS (6),
 * BENCH_NIGHTLY_CHANGE (0.05), BENCH_NIGHTLY_TOOLS (restic,borg,borg-fixed),
 * BENCH_NIGHTLY_ENCRYPTED (1; 0 for the plain store alone).
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import zstd from "zstd-napi";
import { PageType, StreamWriter, type PfnEntry } from "@xenfleet/format";
import { compressImage, DigestTable, gc, importImage, type Sha256Id } from "@xenfleet/image";
import { hashPages, PAGE_SIZE } from "@xenfleet/native";
import { EncryptedStore, LocalStore, type ObjectStore } from "@xenfleet/store";
import { CommandRunner } from "./lib/command-runner.js";
import { baselineToolEnv } from "./lib/baseline-env.js";

const MiB = 1024 * 1024;

/** Page kinds, in the proportions of a typical guest's memory. */
const KINDS = [
  { name: "zero", share: 0.3 },
  { name: "text", share: 0.25 },
  { name: "structured", share: 0.2 },
  { name: "random", share: 0.25 },
] as const;

const WORDS = (
  "the of and to in is was for on that with as by at from it be this are or an not which have has but were been their more " +
  "kernel page memory domain save restore stream error warning info debug request response user system service process thread " +
  "config value status return function buffer device network socket packet header length offset index table entry version " +
  "0 1 2 3 4 5 6 7 8 9 10 16 32 64 128 256 1024 4096 null true false { } [ ] ( ) = ; : , . / - _ + * <div> </div> <p> http https"
).split(" ");

/** A guest's memory, page by page, that changes between nights. */
export class SyntheticDomain {
  readonly memory: Buffer;
  readonly kinds: Uint8Array;
  private x: number;

  constructor(
    readonly pages: number,
    seed: number,
  ) {
    this.memory = Buffer.alloc(pages * PAGE_SIZE);
    this.kinds = new Uint8Array(pages);
    this.x = seed | 1;
    // Kinds come in regions (a heap, a page cache, a zeroed free list), not page by page.
    for (let p = 0; p < pages; ) {
      const run = 1 + Math.floor(this.rand() * 256);
      const kind = this.pickKind();
      for (let i = 0; i < run && p < pages; i++, p++) this.kinds[p] = kind;
    }
    for (let p = 0; p < pages; p++) this.fill(p);
  }

  /** Changes about `fraction` of the non-zero pages, in runs of 1 to 64 pages; returns the count. */
  mutate(fraction: number): number {
    const target = Math.round(this.pages * fraction);
    let changed = 0;
    while (changed < target) {
      const start = Math.floor(this.rand() * this.pages);
      const run = 1 + Math.floor(this.rand() * 64);
      for (let p = start; p < Math.min(this.pages, start + run) && changed < target; p++) {
        if (this.kinds[p] === 0) continue;
        this.fill(p);
        changed++;
      }
    }
    return changed;
  }

  /** Changes `count` pages picked at random (for clones: private changes). */
  scatter(count: number): void {
    for (let n = 0; n < count; ) {
      const p = Math.floor(this.rand() * this.pages);
      if (this.kinds[p] === 0) continue;
      this.fill(p);
      n++;
    }
  }

  page(p: number): Buffer {
    return this.memory.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
  }

  /** Writes the domain as an HVM save stream (xl layer), as `xl save` would. */
  async writeStream(path: string, name: string, uuid: string): Promise<number> {
    const out = createWriteStream(path, { highWaterMark: 4 * MiB });
    const w = new StreamWriter(out, {
      layers: "xl",
      libxcVersion: 3,
      domainType: "x86-hvm",
      xenMajor: 4,
      xenMinor: 17,
      config: {
        c_info: { type: "hvm", name, uuid },
        b_info: { max_vcpus: 2, max_memkb: this.pages * 4, target_memkb: this.pages * 4 },
      },
    });
    await w.begin();
    await w.libxc("X86_CPUID_POLICY", {
      leaves: [{ leaf: 0, subleaf: 0xffffffff, a: 0xd, b: 0x756e6547, c: 0x6c65746e, d: 0x49656e69 }],
    });
    await w.libxc("X86_MSR_POLICY", { entries: [{ index: 0xce, flags: 0, value: 0x80000000n }] });
    await w.libxc("STATIC_DATA_END", {});
    for (let first = 0; first < this.pages; first += 1024) {
      const count = Math.min(1024, this.pages - first);
      const pfns: PfnEntry[] = [];
      const views: Uint8Array[] = [];
      for (let p = first; p < first + count; p++) {
        pfns.push({ pfn: p, type: PageType.NOTAB });
        views.push(this.page(p));
      }
      await w.pageData(pfns, views);
    }
    await w.libxc("X86_TSC_INFO", { mode: 0, khz: 2_400_000, nsec: 1n, incarnation: 1 });
    await w.libxc("HVM_PARAMS", { params: [{ index: 1n, value: 0xfeffcn }] });
    await w.libxc("HVM_CONTEXT", { data: Buffer.alloc(3021, 7) });
    await w.endLibxc();
    await w.libxl("EMULATOR_XENSTORE_DATA", { emulatorId: 2, index: 0, entries: [] });
    await w.libxl("EMULATOR_CONTEXT", { emulatorId: 2, index: 0, data: Buffer.alloc(777, 3) });
    await w.end();
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    return w.bytesWritten;
  }

  private rand(): number {
    this.x ^= this.x << 13;
    this.x ^= this.x >>> 17;
    this.x ^= this.x << 5;
    return (this.x >>> 0) / 2 ** 32;
  }

  private pickKind(): number {
    let r = this.rand();
    for (let k = 0; k < KINDS.length; k++) {
      r -= KINDS[k]!.share;
      if (r < 0) return k;
    }
    return KINDS.length - 1;
  }

  private fill(p: number): void {
    const page = this.page(p);
    switch (this.kinds[p]) {
      case 0:
        page.fill(0);
        return;
      case 1: {
        let at = 0;
        while (at < PAGE_SIZE) {
          const word = WORDS[Math.floor(this.rand() * WORDS.length)]!;
          at += page.write(word, at, "latin1");
          if (at < PAGE_SIZE) page[at++] = this.rand() < 0.1 ? 10 : 32;
        }
        return;
      }
      case 2: {
        // Tables of 8-byte pointers into one region and small counters, as kernel structures are.
        const words = new Uint32Array(page.buffer, page.byteOffset, PAGE_SIZE / 4);
        const base = Math.floor(this.rand() * 0x10000) << 12;
        for (let i = 0; i < words.length; i += 4) {
          words[i] = base + (Math.floor(this.rand() * 4096) << 6);
          words[i + 1] = 0xffff8880;
          words[i + 2] = Math.floor(this.rand() * 100);
          words[i + 3] = this.rand() < 0.5 ? 0 : 1;
        }
        return;
      }
      default: {
        const words = new Uint32Array(page.buffer, page.byteOffset, PAGE_SIZE / 4);
        for (let i = 0; i < words.length; i++) words[i] = (this.rand() * 2 ** 32) >>> 0;
      }
    }
  }
}

/** Unique non-zero pages across nights, and their size compressed with zstd -3 in 1 MiB groups. */
export class IdealBound {
  /** Digests seen, in flat typed arrays: a Set of a million hex strings would weigh on every garbage collection of the import being measured. */
  private readonly seen = new DigestTable(1 << 18);
  private group: Buffer[] = [];
  private groupBytes = 0;
  uniquePages = 0;
  compressedBytes = 0;

  add(domain: SyntheticDomain): void {
    const digests = hashPages(domain.memory);
    for (let p = 0; p < domain.pages; p++) {
      if (domain.kinds[p] === 0) continue;
      if (this.seen.has(digests, p * 32)) continue;
      this.seen.add(digests, p * 32, 0);
      this.uniquePages++;
      this.group.push(Buffer.from(domain.page(p)));
      this.groupBytes += PAGE_SIZE;
      if (this.groupBytes >= MiB) this.flush();
    }
  }

  get rawBytes(): number {
    return this.uniquePages * PAGE_SIZE;
  }

  /** Compressed bytes including the partial last group. */
  compressed(): number {
    this.flush();
    return this.compressedBytes;
  }

  private flush(): void {
    if (this.groupBytes === 0) return;
    this.compressedBytes += zstd.compress(Buffer.concat(this.group), { compressionLevel: 3 }).length;
    this.group = [];
    this.groupBytes = 0;
  }
}

/** Sum of object sizes in a store: what an S3 bucket would bill. */
export async function storeBytes(store: ObjectStore): Promise<number> {
  let total = 0;
  for await (const e of store.list("")) total += e.size;
  return total;
}

async function duBytes(commands: CommandRunner, path: string): Promise<number> {
  const { stdout } = await commands.run("du", ["-sb", path]);
  return Number(stdout.split("\t")[0]);
}

/**
 * Times one backup. Every backup starts with nothing waiting to be written
 * back (`sync`): the stream file was just written by this bench, and its
 * write-back would otherwise land on whichever tool runs first each night.
 */
async function timed<T>(commands: CommandRunner, fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  await commands.run("sync", []);
  const start = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - start) / 1000 };
}

const round = (n: number, digits = 3) => Number(n.toFixed(digits));

interface Tool {
  name: string;
  repo: string;
  init(): Promise<void>;
  backup(file: string, night: number): Promise<void>;
}

function tools(commands: CommandRunner, dir: string, wanted: string[]): Tool[] {
  const env = baselineToolEnv(dir);
  const sh = (cmd: string, args: string[]) => commands.run(cmd, args, env);
  const all: Tool[] = [
    {
      name: "restic",
      repo: join(dir, "restic"),
      init: async () => void (await sh("restic", ["-r", join(dir, "restic"), "init"])),
      backup: async (file) => void (await sh("restic", ["-r", join(dir, "restic"), "backup", "--quiet", file])),
    },
    {
      name: "borg",
      repo: join(dir, "borg"),
      init: async () => void (await sh("borg", ["init", "-e", "none", join(dir, "borg")])),
      backup: async (file, night) =>
        void (await sh("borg", ["create", "--compression", "zstd,3", `${join(dir, "borg")}::night${night}`, file])),
    },
    {
      name: "borgFixed4k",
      repo: join(dir, "borg-fixed"),
      init: async () => void (await sh("borg", ["init", "-e", "none", join(dir, "borg-fixed")])),
      backup: async (file, night) =>
        void (await sh("borg", [
          "create",
          "--compression",
          "zstd,3",
          "--chunker-params",
          "fixed,4096",
          `${join(dir, "borg-fixed")}::night${night}`,
          file,
        ])),
    },
  ];
  const names: Record<string, string> = { restic: "restic", borg: "borg", "borg-fixed": "borgFixed4k" };
  return all.filter((t) => wanted.some((w) => names[w] === t.name));
}

async function main(): Promise<void> {
  const mib = Number(process.env.BENCH_NIGHTLY_MIB ?? 1024);
  const nights = Number(process.env.BENCH_NIGHTLY_NIGHTS ?? 6);
  const change = Number(process.env.BENCH_NIGHTLY_CHANGE ?? 0.05);
  const wanted = (process.env.BENCH_NIGHTLY_TOOLS ?? "restic,borg,borg-fixed").split(",").filter(Boolean);
  const encrypted = (process.env.BENCH_NIGHTLY_ENCRYPTED ?? "1") !== "0";
  const dir = await mkdtemp(join(tmpdir(), "xenfleet-bench-nightly-"));
  // Started first, while this process is small (see CommandRunner).
  const commands = new CommandRunner();
  try {
    const domain = new SyntheticDomain((mib * MiB) / PAGE_SIZE, 42);
    const ideal = new IdealBound();
    const storeRoot = join(dir, "xenfleet");
    const store = await LocalStore.open(storeRoot);
    const encryptedRoot = join(dir, "xenfleet-encrypted");
    const encryptedInner = encrypted ? await LocalStore.open(encryptedRoot) : undefined;
    const encryptedStore = encryptedInner && new EncryptedStore(encryptedInner, randomBytes(32));
    const encryptedTotals = { plainImportSeconds: 0, encryptedImportSeconds: 0 };
    const others = tools(commands, dir, wanted);
    for (const t of others) await t.init();
    const file = join(dir, "domain.xl");
    const perNight: Array<Record<string, unknown>> = [];
    const before: Record<string, number> = { xenfleetRaw: 0, xenfleetCompressed: 0 };
    for (const t of others) before[t.name] = await duBytes(commands, t.repo);
    let compressedSoFar = 0;
    for (let night = 0; night < nights; night++) {
      const changed = night === 0 ? 0 : domain.mutate(change);
      const streamBytes = await domain.writeStream(file, "nightly", "6f1e2d3c-0000-4000-8000-000000000042");
      ideal.add(domain);

      const created = new Date(Date.UTC(2025, 0, 1 + night, 2));
      const importInto = (into: ObjectStore) =>
        timed(commands, () => importImage(into, file, { domain: "nightly", created }));
      // Alternating which goes first, so that neither always meets a cold or a warm page cache.
      const encryptedFirst = encryptedStore !== undefined && night % 2 === 1;
      const encImpFirst = encryptedFirst ? await importInto(encryptedStore) : undefined;
      const imp = await importInto(store);
      const encImp = encryptedStore === undefined ? undefined : (encImpFirst ?? (await importInto(encryptedStore)));
      const rawAfter = await storeBytes(store);
      // 1 MiB frames, as the compressed ideal groups pages: compressed packs are cold and read whole.
      const comp = await timed(commands, () =>
        compressImage(store, imp.value.imageId as Sha256Id, "zstd", { frameEntries: 256 }),
      );
      await gc(store, { graceMs: 0 });
      const compressedAfter = await storeBytes(store);
      const row: Record<string, unknown> = {
        night,
        changedPages: changed,
        streamBytes,
        xenfleet: {
          importSeconds: round(imp.seconds),
          bytesNew: imp.value.bytesNew,
          dedupPages: imp.value.dedupPages,
          zeroPages: imp.value.zeroPages,
          compressSeconds: round(comp.seconds),
          storeBytesCompressed: compressedAfter,
          addedCompressed: compressedAfter - compressedSoFar,
        },
      };
      before.xenfleetRaw! += imp.value.bytesNew;
      compressedSoFar = compressedAfter;
      void rawAfter;
      if (encryptedStore !== undefined && encImp !== undefined) {
        const encComp = await timed(commands, () =>
          compressImage(encryptedStore, encImp.value.imageId as Sha256Id, "zstd", { frameEntries: 256 }),
        );
        await gc(encryptedStore, { graceMs: 0 });
        row.xenfleetEncrypted = {
          importSeconds: round(encImp.seconds),
          bytesNew: encImp.value.bytesNew,
          dedupPages: encImp.value.dedupPages,
          compressSeconds: round(encComp.seconds),
          // What the bucket holds: the inner store's objects, headers and tags included.
          storedBytesCompressed: await storeBytes(encryptedInner!),
        };
        if (night > 0) {
          encryptedTotals.plainImportSeconds += imp.seconds;
          encryptedTotals.encryptedImportSeconds += encImp.seconds;
        }
      }
      for (const t of others) {
        const r = await timed(commands, () => t.backup(file, night));
        const size = await duBytes(commands, t.repo);
        row[t.name] = { seconds: round(r.seconds), added: size - before[t.name]!, repoBytes: size };
        before[t.name] = size;
      }
      perNight.push(row);
    }
    const last = perNight[perNight.length - 1]!;
    const xfRaw = before.xenfleetRaw!;
    const xfCompressed = compressedSoFar;
    const idealRaw = ideal.rawBytes;
    const idealCompressed = ideal.compressed();
    const fixed = last.borgFixed4k as { repoBytes: number } | undefined;
    const incrementalRatios = perNight.slice(1).map((r) => {
      const f = r.borgFixed4k as { seconds: number } | undefined;
      return f === undefined ? null : round((r.xenfleet as { importSeconds: number }).importSeconds / f.seconds, 3);
    });
    const result = {
      bench: "nightly",
      domainMiB: mib,
      nights,
      change,
      ideal: { uniqueNonZeroPages: ideal.uniquePages, rawBytes: idealRaw, zstd3Bytes: idealCompressed },
      xenfleet: {
        rawStoreBytes: xfRaw,
        compressedStoreBytes: xfCompressed,
        storeDuBytes: await duBytes(commands, storeRoot),
      },
      others: Object.fromEntries(others.map((t) => [t.name, { repoBytes: before[t.name] }])),
      encrypted:
        encryptedStore === undefined
          ? null
          : {
              storeDuBytes: await duBytes(commands, encryptedRoot),
              storedBytes: await storeBytes(encryptedInner!),
              storedVsPlain: round((await storeBytes(encryptedInner!)) / xfCompressed),
              incrementalImportTimeVsPlain: round(
                encryptedTotals.encryptedImportSeconds / encryptedTotals.plainImportSeconds,
              ),
              firstImportTimeVsPlain: round(
                (perNight[0]!.xenfleetEncrypted as { importSeconds: number }).importSeconds /
                  (perNight[0]!.xenfleet as { importSeconds: number }).importSeconds,
              ),
            },
      ratios: {
        rawVsIdeal: round(xfRaw / idealRaw),
        compressedVsIdealZstd: round(xfCompressed / idealCompressed),
        compressedVsBorgFixed4k: fixed === undefined ? null : round(xfCompressed / fixed.repoBytes),
        incrementalImportVsBorgFixed4kTime: incrementalRatios,
      },
      targets: {
        compressedVsBorgFixed4k: fixed === undefined ? null : xfCompressed <= 0.9 * fixed.repoBytes,
        rawVsIdeal: xfRaw <= 1.1 * idealRaw,
        incrementalImportTime: incrementalRatios.every((r) => r !== null && r <= 0.35),
        encryptedImportTime:
          encryptedStore === undefined
            ? null
            : encryptedTotals.encryptedImportSeconds <= 1.1 * encryptedTotals.plainImportSeconds,
      },
      perNight,
    };
    process.stdout.write(JSON.stringify(result) + "\n");
    await store.close();
    await encryptedStore?.close();
  } finally {
    commands.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

/**
 * Page kernel throughput on one set of 4 KiB pages (256 MiB of mixed content:
 * zero, repetitive and random pages), all in one run so the ratios compare
 * like with like on a shared machine:
 *  - native: hashPages (BLAKE3, one batch call) from @xenfleet/native;
 *  - nodeSha256: Node's crypto SHA-256, createHash per page;
 *  - cref: BLAKE3's official C library per page (bench/c/blake3-ref.c, built
 *    now with cc -O3 against librust-blake3-dev into a temp dir), reading
 *    the same pages from a file and timing only its hashing;
 *  - zero detection of the same pages (and of all-zero pages, its worst
 *    case), and delta encode/decode of the first 64 MiB against previous
 *    versions with 1 byte in 64 changed.
 * Each figure is the best of ROUNDS. Prints one JSON line.
 * Targets: native/cref >= 0.8, native/nodeSha256 >= 3.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { blake3, deltaDecode, deltaEncode, hashPages, PAGE_SIZE, zeroPages } from "@xenfleet/native";

const MiB = 1024 * 1024;
const TOTAL = Number(process.env.BENCH_PAGES_MIB ?? 256) * MiB;
const DELTA_PAGES = Number(process.env.BENCH_PAGES_DELTA ?? 16384); // 64 MiB
const ROUNDS = Number(process.env.BENCH_PAGES_ROUNDS ?? 3);
const count = TOTAL / PAGE_SIZE;

/** Page i is zero (1 in 8), a short repeated pattern (1 in 8) or random (3 in 4). */
function makePages(): Buffer {
  const pages = randomBytes(TOTAL);
  for (let i = 0; i < count; i++) {
    const page = pages.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
    if (i % 8 === 0) page.fill(0);
    else if (i % 8 === 1) page.fill(`page ${i} `);
  }
  return pages;
}

/** The previous version of a page: 1 in 64 of its bytes different. */
function previousVersions(pages: Buffer, n: number): Buffer {
  const previous = Buffer.from(pages.subarray(0, n * PAGE_SIZE));
  for (let at = 0; at < previous.length; at += 1 + Math.floor(Math.random() * 127)) previous[at] = previous[at]! ^ 0x5a;
  return previous;
}

function best(fn: () => void): number {
  let fastest = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    fn();
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return fastest;
}

const gbps = (bytes: number, seconds: number) => Number((bytes / seconds / 1e9).toFixed(3));
const ratio = (a: number, b: number) => Number((a / b).toFixed(2));

function blake3SourceDir(): string {
  const registry = "/usr/share/cargo/registry";
  const dirs = existsSync(registry) ? readdirSync(registry).filter((d) => /^blake3-[0-9]/.test(d)) : [];
  const newest = dirs.sort((a, b) => a.localeCompare(b, "en", { numeric: true })).pop();
  if (newest === undefined)
    throw new Error(`BLAKE3 C sources not found under ${registry}: apt-get install librust-blake3-dev`);
  return join(registry, newest, "c");
}

function buildReference(outDir: string): string {
  const src = blake3SourceDir();
  const here = dirname(fileURLToPath(import.meta.url));
  const sources = ["blake3.c", "blake3_dispatch.c", "blake3_portable.c"].map((f) => join(src, f));
  const asm =
    process.arch === "x64"
      ? readdirSync(src)
          .filter((f) => f.endsWith("_x86-64_unix.S"))
          .map((f) => join(src, f))
      : [];
  const noSimd =
    process.arch === "x64" ? [] : ["-DBLAKE3_NO_SSE2", "-DBLAKE3_NO_SSE41", "-DBLAKE3_NO_AVX2", "-DBLAKE3_NO_AVX512"];
  const binary = join(outDir, "blake3-ref");
  execFileSync(
    "cc",
    ["-O3", `-I${src}`, ...noSimd, "-o", binary, join(here, "c", "blake3-ref.c"), ...sources, ...asm],
    {
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  return binary;
}

const dir = await mkdtemp(join(tmpdir(), "xenfleet-bench-pages-"));
try {
  const pages = makePages();
  const pageFile = join(dir, "pages.bin");
  await writeFile(pageFile, pages);
  const reference = buildReference(dir);

  let digests: Buffer = Buffer.alloc(0);
  const nativeSeconds = best(() => {
    digests = hashPages(pages);
  });

  const sha256Seconds = best(() => {
    for (let i = 0; i < count; i++)
      createHash("sha256")
        .update(pages.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE))
        .digest();
  });

  const cref = JSON.parse(execFileSync(reference, [pageFile, String(ROUNDS)], { encoding: "utf8" })) as {
    seconds: number;
    digestOfDigests: string;
  };
  // Both sides must have computed the same digests, or the comparison means nothing.
  if (cref.digestOfDigests !== blake3(digests).toString("hex"))
    throw new Error("native and C reference digests differ");

  let zeroCount = 0;
  const zeroSeconds = best(() => {
    zeroCount = zeroPages(pages).reduce((n, flag) => n + flag, 0);
  });

  // Worst case for zero detection: every page must be read to the end.
  const allZero = Buffer.alloc(64 * MiB);
  const allZeroSeconds = best(() => zeroPages(allZero));

  const deltaPages = Math.min(DELTA_PAGES, count);
  const previous = previousVersions(pages, deltaPages);
  const deltas: Buffer[] = new Array(deltaPages);
  const encodeSeconds = best(() => {
    for (let i = 0; i < deltaPages; i++) {
      deltas[i] = deltaEncode(
        pages.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE),
        previous.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE),
      );
    }
  });
  // Decoded into one output buffer, as a restore assembling an image would.
  const restored = Buffer.alloc(deltaPages * PAGE_SIZE);
  const decodeSeconds = best(() => {
    for (let i = 0; i < deltaPages; i++) {
      const at = i * PAGE_SIZE;
      deltaDecode(deltas[i]!, previous.subarray(at, at + PAGE_SIZE), restored.subarray(at, at + PAGE_SIZE));
    }
  });
  if (!restored.equals(pages.subarray(0, deltaPages * PAGE_SIZE))) throw new Error("delta round trip differs");
  const deltaBytes = deltas.reduce((n, d) => n + d.length, 0);

  const native = gbps(TOTAL, nativeSeconds);
  const nodeSha256 = gbps(TOTAL, sha256Seconds);
  const crefGbps = gbps(TOTAL, cref.seconds);
  console.log(
    JSON.stringify({
      bench: "pages",
      mib: TOTAL / MiB,
      pages: count,
      zeroPages: zeroCount,
      rounds: ROUNDS,
      hashGBps: { native, nodeSha256, cref: crefGbps },
      ratios: { nativeOverCref: ratio(native, crefGbps), nativeOverNodeSha256: ratio(native, nodeSha256) },
      targets: { nativeOverCref: 0.8, nativeOverNodeSha256: 3 },
      zeroDetectGBps: { mixed: gbps(TOTAL, zeroSeconds), allZero: gbps(allZero.length, allZeroSeconds) },
      delta: {
        pages: deltaPages,
        encodeGBps: gbps(deltaPages * PAGE_SIZE, encodeSeconds),
        decodeGBps: gbps(deltaPages * PAGE_SIZE, decodeSeconds),
        sizeRatio: Number((deltaBytes / (deltaPages * PAGE_SIZE)).toFixed(3)),
      },
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}

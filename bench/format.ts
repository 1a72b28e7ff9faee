/**
 * Reader throughput: a 1 GiB sample stream read through readStream, from a
 * file and from memory, against simply draining the same bytes from the same
 * source in the same run. Prints one JSON line.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSource, readStream, writeSampleStream } from "@xenfleet/format";

const GiB = 1024 ** 3;
const PAGES = Number(process.env.BENCH_FORMAT_PAGES ?? GiB / 4096);
const CHUNK = 4 * 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_FORMAT_ROUNDS ?? 5);

async function drain(source: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of source) bytes += chunk.length;
  return bytes;
}

async function readPages(source: Parameters<typeof readStream>[0]): Promise<number> {
  let pages = 0;
  for await (const event of readStream(source, { chunkSize: CHUNK }))
    if (event.kind === "page-data") pages += event.pages.length;
  return pages;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const dir = await mkdtemp(join(tmpdir(), "xenfleet-bench-format-"));
try {
  const path = join(dir, "sample.xl");
  const out = createWriteStream(path, { highWaterMark: CHUNK });
  const { bytes } = await writeSampleStream(out, { domainType: "x86-hvm", pages: PAGES, layers: "xl", seed: 7 });
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));

  let pages = 0;
  const best = { fileRaw: Infinity, fileReader: Infinity, memRaw: Infinity, memReader: Infinity };
  // File first, before 1 GiB sits in memory, so both runs see the same heap.
  for (let round = 0; round < ROUNDS; round++) {
    best.fileRaw = Math.min(best.fileRaw, await time(() => drain(openSource(path, { chunkSize: CHUNK }))));
    best.fileReader = Math.min(best.fileReader, await time(async () => (pages = await readPages(path))));
  }
  if (pages !== PAGES) throw new Error(`read ${pages} pages from the file, wrote ${PAGES}`);
  const memory: Uint8Array[] = [];
  for await (const chunk of openSource(path, { chunkSize: CHUNK })) memory.push(chunk);
  for (let round = 0; round < ROUNDS; round++) {
    best.memRaw = Math.min(best.memRaw, await time(() => drain(openSource(memory))));
    best.memReader = Math.min(best.memReader, await time(async () => (pages = await readPages(memory))));
  }
  if (pages !== PAGES) throw new Error(`read ${pages} pages, wrote ${PAGES}`);
  const gbps = (seconds: number) => Number((bytes / seconds / 1e9).toFixed(3));
  const ratio = (reader: number, raw: number) => Number((raw / reader).toFixed(3));
  console.log(
    JSON.stringify({
      bench: "format",
      bytes,
      pages,
      chunkSize: CHUNK,
      rounds: ROUNDS,
      file: {
        rawGBps: gbps(best.fileRaw),
        readerGBps: gbps(best.fileReader),
        ratio: ratio(best.fileReader, best.fileRaw),
      },
      memory: {
        rawGBps: gbps(best.memRaw),
        readerGBps: gbps(best.memReader),
        ratio: ratio(best.memReader, best.memRaw),
      },
      target: { fileRatio: 0.8, met: ratio(best.fileReader, best.fileRaw) >= 0.8 },
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}

import { stat } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import type { Command } from "commander";
import cliProgress from "cli-progress";
import { isCompression, openStore, type Compression, type ObjectStore } from "@xenfleet/store";
import type { StreamSource } from "@xenfleet/format";
import {
  exportImage,
  gc,
  importAnyImage,
  listImageRefs,
  listImages,
  parseImageId,
  prune,
  removeImage,
  verifyImage,
  ImageUsageError,
  type Sha256Id,
} from "@xenfleet/image";

/**
 * `xenfleet image import|export|ls|verify|rm`, `xenfleet prune` and
 * `xenfleet gc`: the image layer from the command line. Every command takes
 * --store URL (default $XENFLEET_STORE, else ./.xenfleet/store). Long
 * operations draw a progress bar on stderr when it is a terminal, and print
 * nothing extra otherwise.
 */

interface StoreOpts {
  store?: string;
  json?: boolean;
}

/**
 * Wraps an action: opens the store, runs, reports errors (exit code 1), closes.
 * Commander calls actions with the arguments, then the options, then the command.
 */
function withStore<O extends StoreOpts, A extends unknown[]>(
  action: (store: ObjectStore, ...args: [...A, O]) => Promise<void>,
) {
  return async (...given: [...A, O, Command]) => {
    const args = given.slice(0, -1) as [...A, O];
    const opts = args[args.length - 1] as O;
    let store: ObjectStore | undefined;
    try {
      store = await openStore(opts.store, process.env);
      await action(store, ...args);
    } catch (error) {
      if (opts.json) process.stdout.write(JSON.stringify({ ok: false, error: errorJson(error) }) + "\n");
      else process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    } finally {
      await store?.close();
    }
  };
}

function errorJson(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const e = error as Error & { code?: string; imageId?: string; key?: string };
  return { name: e.name, code: e.code, message: e.message, imageId: e.imageId, key: e.key };
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a count: ${value}`);
  return n;
}

function legacyWidth(value: string): 32 | 64 {
  if (value === "32" || value === "64") return Number(value) as 32 | 64;
  throw new Error(`--width is 32 or 64, not ${value}`);
}

function legacyGuest(value: string): "pv" | "hvm" {
  if (value === "pv" || value === "hvm") return value;
  throw new Error(`--guest is pv or hvm, not ${value}`);
}

function compression(value: string): Compression {
  if (isCompression(value)) return value;
  throw new Error(`--compression is none, zstd or lz4, not ${value}`);
}

/** A duration: milliseconds, or a number with s, m, h or d. */
function duration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value);
  if (m === null) throw new Error(`not a duration: ${value} (e.g. 0, 30m, 1h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "ms") as "ms"];
  return Number(m[1]) * unit;
}

/** An image id, or an unambiguous prefix (at least 8 hex digits) of one a ref holds. */
async function resolveImageId(store: ObjectStore, text: string): Promise<Sha256Id> {
  if (text.length === 64) return parseImageId(text);
  if (!/^[0-9a-f]{8,63}$/i.test(text))
    throw new ImageUsageError(`not an image id: ${JSON.stringify(text)} (64 hex digits, or a prefix of at least 8)`);
  const matches = [
    ...new Set((await listImageRefs(store)).map((r) => r.id).filter((id) => id.startsWith(text.toLowerCase()))),
  ];
  if (matches.length === 1) return matches[0]!;
  throw new ImageUsageError(
    matches.length === 0 ? `no image id starts with ${text}` : `${text} is ambiguous (${matches.length} images)`,
  );
}

/** A byte progress bar on stderr when it is a terminal; otherwise nothing. */
function progressBar(total: number | undefined): { update(bytes: number, total?: number): void; stop(): void } {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: " {bar} {percentage}% | {mib}/{totalMib} MiB",
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  return {
    update(bytes, newTotal) {
      const t = newTotal ?? total ?? 0;
      if (!started) {
        bar.start(t || 1, 0, { mib: "0", totalMib: t ? mib(t) : "?" });
        started = true;
      }
      if (newTotal !== undefined) bar.setTotal(newTotal || 1);
      bar.update(t ? bytes : 0, { mib: mib(bytes), totalMib: t ? mib(t) : "?" });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function registerImageCommands(program: Command): void {
  const storeOption = ["--store <url>", "store URL (default $XENFLEET_STORE, else ./.xenfleet/store)"] as const;
  const image = program.command("image").description("Import, export, list, verify and remove saved domain images");

  image
    .command("import")
    .description("Import a save stream (FILE, or - for stdin) as a new image of DOMAIN; prints the image id")
    .argument("<file>", "stream file, or - for standard input")
    .requiredOption("--domain <name>", "the domain the image belongs to")
    .option("--parent <id>", "parent image: auto (the domain's latest), none, or an id", "auto")
    .option(
      "--compression <algo>",
      "pack compression: none (fast; compressed later), zstd or lz4",
      compression,
      "none" as Compression,
    )
    .option(
      "--width <bits>",
      "legacy (pre-v2) images: toolstack width, 32 or 64, when it cannot be detected",
      legacyWidth,
    )
    .option("--guest <type>", "legacy (pre-v2) images: guest type, pv or hvm, when it cannot be detected", legacyGuest)
    .option("--json", "print {id, bytesTotal, bytesNew, ...} as one JSON object")
    .option(...storeOption)
    .action(
      withStore(
        async (
          store,
          file: string,
          opts: StoreOpts & {
            domain: string;
            parent: string;
            compression: Compression;
            width?: 32 | 64;
            guest?: "pv" | "hvm";
          },
        ) => {
          const source: StreamSource = file === "-" ? process.stdin : file;
          const size = file === "-" ? undefined : (await stat(file)).size;
          const parent =
            opts.parent === "auto" ? "auto" : opts.parent === "none" ? null : await resolveImageId(store, opts.parent);
          const bar = progressBar(size);
          try {
            // A legacy (pre-v2) image is detected from its first bytes and stored as v2.
            const r = await importAnyImage(store, source, {
              domain: opts.domain,
              parent,
              compression: opts.compression,
              convert: { width: opts.width, guest: opts.guest },
              onProgress: (p) => bar.update(p.bytes),
            });
            bar.stop();
            const origin = r.width === undefined ? { source: "v2" } : { source: "legacy", width: r.width };
            process.stdout.write(
              opts.json
                ? JSON.stringify({
                    id: r.imageId,
                    bytesTotal: r.bytesTotal,
                    bytesNew: r.bytesNew,
                    pages: r.pages,
                    zeroPages: r.zeroPages,
                    dedupPages: r.dedupPages,
                    parent: r.parent,
                    seconds: r.seconds,
                    ...origin,
                  }) + "\n"
                : `${r.imageId}\n`,
            );
          } finally {
            bar.stop();
          }
        },
      ),
    );

  image
    .command("export")
    .description("Write an image back as its original stream, byte for byte, to FILE (or - for stdout)")
    .argument("<id>", "image id (or a unique prefix)")
    .argument("<file>", "output file, or - for standard output")
    .option(...storeOption)
    .action(
      withStore(async (store, idText: string, file: string, _opts: StoreOpts) => {
        const id = await resolveImageId(store, idText);
        const out = file === "-" ? process.stdout : createWriteStream(file);
        const bar = progressBar(undefined);
        try {
          await exportImage(store, id, out, { onProgress: (p) => bar.update(p.bytes, p.bytesTotal) });
        } finally {
          bar.stop();
          if (out !== process.stdout)
            await new Promise<void>((resolve, reject) =>
              out.end((err?: Error | null) => (err ? reject(err) : resolve())),
            );
        }
      }),
    );

  image
    .command("ls")
    .description("List images (of one domain, or all), oldest first per domain")
    .option("--domain <name>", "only this domain")
    .option("--json", "one JSON object per line")
    .option(...storeOption)
    .action(
      withStore(async (store, opts: StoreOpts & { domain?: string }) => {
        const images = await listImages(store, opts.domain === undefined ? {} : { domain: opts.domain });
        for (const i of images) {
          const m = i.manifest;
          if (opts.json) {
            process.stdout.write(
              JSON.stringify({
                id: i.id,
                domain: i.domain,
                created: i.created.toISOString(),
                streamBytes: m?.streamBytes,
                pages: m?.pages,
                zeroPages: m?.zeroPages,
                parent: m?.parent,
                uuid: m?.domain.uuid,
                domainType: m?.domainType,
                source: m?.source,
                broken: m === undefined,
              }) + "\n",
            );
          } else {
            const size = m === undefined ? "(manifest unreadable)" : `${(m.streamBytes / 2 ** 20).toFixed(1)} MiB`;
            process.stdout.write(`${i.id.slice(0, 12)}  ${i.created.toISOString()}  ${i.domain.padEnd(20)} ${size}\n`);
          }
        }
      }),
    );

  image
    .command("verify")
    .description("Read every object of an image and check every page and the whole stream; exit 1 naming what is wrong")
    .argument("<id>", "image id (or a unique prefix)")
    .option("--json", "print the result as JSON")
    .option(...storeOption)
    .action(
      withStore(async (store, idText: string, opts: StoreOpts) => {
        const id = await resolveImageId(store, idText);
        const bar = progressBar(undefined);
        try {
          const r = await verifyImage(store, id, { onProgress: (p) => bar.update(p.bytes, p.bytesTotal) });
          bar.stop();
          process.stdout.write(
            opts.json
              ? JSON.stringify({ ok: true, id, bytes: r.bytes, sha256: r.sha256 }) + "\n"
              : `ok ${id} ${r.bytes} bytes sha256 ${r.sha256}\n`,
          );
        } finally {
          bar.stop();
        }
      }),
    );

  image
    .command("rm")
    .description("Remove an image (its refs; gc reclaims the data)")
    .argument("<id>", "image id (or a unique prefix)")
    .option(...storeOption)
    .action(
      withStore(async (store, idText: string, _opts: StoreOpts) => {
        await removeImage(store, await resolveImageId(store, idText));
      }),
    );

  program
    .command("prune")
    .description("Remove images a retention policy does not keep (per domain); gc reclaims their data")
    .option("--keep-last <n>", "keep the n newest images", integer)
    .option("--keep-daily <n>", "keep the newest image of each of the n newest days", integer)
    .option("--keep-weekly <n>", "keep the newest image of each of the n newest ISO weeks", integer)
    .option("--domain <name>", "only this domain")
    .option("--dry-run", "report, remove nothing")
    .option("--json", "print {kept, removed} as JSON")
    .option(...storeOption)
    .action(
      withStore(
        async (
          store,
          opts: StoreOpts & {
            keepLast?: number;
            keepDaily?: number;
            keepWeekly?: number;
            domain?: string;
            dryRun?: boolean;
          },
        ) => {
          const r = await prune(store, {
            ...(opts.keepLast === undefined ? {} : { keepLast: opts.keepLast }),
            ...(opts.keepDaily === undefined ? {} : { keepDaily: opts.keepDaily }),
            ...(opts.keepWeekly === undefined ? {} : { keepWeekly: opts.keepWeekly }),
            ...(opts.domain === undefined ? {} : { domain: opts.domain }),
            dryRun: opts.dryRun ?? false,
          });
          const brief = (refs: typeof r.kept) =>
            refs.map((x) => ({ id: x.id, domain: x.domain, created: x.created.toISOString() }));
          if (opts.json)
            process.stdout.write(JSON.stringify({ kept: brief(r.kept), removed: brief(r.removed) }) + "\n");
          else
            for (const x of r.removed)
              process.stdout.write(
                `${opts.dryRun ? "would remove" : "removed"} ${x.id} ${x.domain} ${x.created.toISOString()}\n`,
              );
        },
      ),
    );

  program
    .command("gc")
    .description("Delete what no image references (mark from refs, sweep with a grace period)")
    .option("--grace <duration>", "keep objects younger than this (e.g. 0, 30m, 1h)", duration, 3_600_000)
    .option("--dry-run", "report, delete nothing")
    .option("--json", "print the result as JSON")
    .option(...storeOption)
    .action(
      withStore(async (store, opts: StoreOpts & { grace: number; dryRun?: boolean }) => {
        const r = await gc(store, { graceMs: opts.grace, dryRun: opts.dryRun ?? false });
        if (opts.json) process.stdout.write(JSON.stringify(r) + "\n");
        else {
          const d = r.deleted;
          process.stdout.write(
            `${r.images} images; deleted ${d.manifests} manifests, ${d.blocks} blocks, ${d.packs} packs (+${d.rewrittenPacks} rewritten), ${d.forwards} forwards, ${d.hooks} hooks, ${d.locks} stale locks; ${r.bytesFreed} bytes freed\n`,
          );
          for (const m of r.missing) process.stderr.write(`missing: ${m}\n`);
        }
        if (r.missing.length > 0) process.exitCode = 1;
      }),
    );
}

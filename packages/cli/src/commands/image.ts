/**
 * `xenfleet image import|export|ls|show|verify|protect|unprotect|rm`, `xenfleet prune`,
 * `xenfleet check` and `xenfleet gc`: the image layer from the command line. Every command takes
 * --store (default $XENFLEET_STORE, else ./.xenfleet/store); only `image
 * import` creates a store that is not there. Long operations draw a progress
 * bar on stderr when it is a terminal, and print nothing extra otherwise.
 */
import { stat } from "node:fs/promises";
import { Option, type Command } from "commander";
import { formatSize } from "@xenfleet/core";
import type { StreamSource } from "@xenfleet/format";
import {
  checkStore,
  copyImages,
  ImageUsageError,
  listImageRefs,
  exportImage,
  gc,
  importAnyImage,
  listImages,
  loadManifest,
  protectImage,
  prune,
  removeImage,
  unprotectImage,
  verifyAndRecord,
  type CheckSubset,
  type ImageRef,
  type Sha256Id,
} from "@xenfleet/image";
import { openStoreConfig, type Compression, type ObjectStore } from "@xenfleet/store";
import { checkSubset, count, durationOption, inputFile, label, labels, since, storeLocation } from "../args.js";
import { UsageError, WorkFailedError } from "../errors.js";
import { emit, table } from "../output.js";
import { writeOutput } from "../output-file.js";
import { keyFileOption, storeOption } from "./fleet-options.js";
import { imageJson, selectImages, type ImageFilters as LsFilters } from "@xenfleet/fleet";
import { registerHealthCheckCommand } from "./health-check.js";
import { imageStoreOf, openImageStore, resolveImageId } from "./image-store.js";
import { tracker } from "./progress.js";

/**
 * An action on the store: opens it (only if it exists, unless `create`),
 * runs, closes it. Commander calls actions with the arguments, then the
 * options, then the command.
 */
function withStore<O extends { store: string; keyFile?: string }, A extends unknown[]>(
  create: boolean,
  action: (store: ObjectStore, ...args: [...A, O]) => Promise<void>,
) {
  return async (...given: [...A, O, Command]) => {
    const args = given.slice(0, -1) as [...A, O];
    const opts = args[args.length - 1] as O;
    const store = await openImageStore(opts.store, { create, keyFile: opts.keyFile });
    try {
      await action(store, ...args);
    } finally {
      await store.close();
    }
  };
}

/** A byte bar on stderr while `run` works, on a terminal only. */
async function withBar<T>(
  label: string,
  run: (update: (bytes: number, total?: number) => void) => Promise<T>,
): Promise<T> {
  const bar = process.stderr.isTTY ? tracker() : undefined;
  try {
    return await run((bytes, total) =>
      bar?.update(label, { label, state: "", done: bytes, ...(total ? { total } : {}), unit: "bytes" }),
    );
  } finally {
    bar?.stop();
  }
}

function refJson(r: ImageRef) {
  return { imageId: r.id, domain: r.domain, created: r.created.toISOString() };
}

export function registerImageCommands(program: Command): void {
  const image = program
    .command("image")
    .description("Import, export, list, show, verify and remove saved domain images");

  image
    .command("import")
    .description("Import a save stream (FILE, or - for stdin) as a new image of DOMAIN; prints the image id")
    .argument("<file>", "stream file, or - for standard input", inputFile)
    .requiredOption("--domain <name>", "the domain the image belongs to (its images are filed under this name)")
    .option("--parent <id>", "parent image: auto (the domain's latest), none, or an id", "auto")
    .addOption(
      new Option("--compression <algorithm>", "pack compression: none (fast; compressed later), zstd or lz4")
        .choices(["none", "zstd", "lz4"])
        .default("none"),
    )
    .option("--label <labels>", "labels of the image, comma separated", labels)
    .addOption(
      new Option("--width <bits>", "legacy (pre-v2) images: toolstack width, when it cannot be detected").choices([
        "32",
        "64",
      ]),
    )
    .addOption(
      new Option("--guest <type>", "legacy (pre-v2) images: guest type, when it cannot be detected").choices([
        "pv",
        "hvm",
      ]),
    )
    .option("--json", "print the result as one JSON document")
    .addOption(storeOption())
    .addOption(keyFileOption())
    .action(
      withStore(
        true,
        async (
          store,
          file: string,
          opts: {
            store: string;
            json?: boolean;
            domain: string;
            parent: string;
            compression: Compression;
            label?: string[];
            width?: "32" | "64";
            guest?: "pv" | "hvm";
          },
        ) => {
          const source: StreamSource = file === "-" ? process.stdin : file;
          const size = file === "-" ? undefined : (await stat(file)).size;
          const parent =
            opts.parent === "auto" ? "auto" : opts.parent === "none" ? null : await resolveImageId(store, opts.parent);
          // A legacy (pre-v2) image is detected from its first bytes and stored as v2.
          const r = await withBar(`import of ${file}`, (update) =>
            importAnyImage(store, source, {
              domain: opts.domain,
              parent,
              compression: opts.compression,
              ...(opts.label === undefined ? {} : { labels: opts.label }),
              convert: {
                ...(opts.width === undefined ? {} : { width: Number(opts.width) as 32 | 64 }),
                ...(opts.guest === undefined ? {} : { guest: opts.guest }),
              },
              onProgress: (p) => update(p.bytes, size),
            }),
          );
          emit(
            opts.json,
            {
              imageId: r.imageId,
              domain: opts.domain,
              bytesTotal: r.bytesTotal,
              bytesNew: r.bytesNew,
              pages: r.pages,
              zeroPages: r.zeroPages,
              dedupPages: r.dedupPages,
              parent: r.parent,
              ...(r.parentSkipped === undefined ? {} : { parentSkipped: r.parentSkipped }),
              seconds: r.seconds,
              ...(r.width === undefined ? { source: "v2" } : { source: "legacy", width: r.width }),
            },
            () => r.imageId,
          );
          if (r.parentSkipped !== undefined && !opts.json)
            process.stderr.write(
              `warning: the latest image ${r.parentSkipped.id} is unreadable (${r.parentSkipped.reason}); imported in full, without a parent\n`,
            );
        },
      ),
    );

  image
    .command("export")
    .description(
      "Write an image back as its original stream, byte for byte, to FILE (or - for stdout); FILE appears only once the whole stream is written and verified",
    )
    .argument("<id>", "image id (or a unique prefix)")
    .argument("<file>", "output file, or - for standard output")
    .option("--json", "print the result as one JSON document (not with -)")
    .addOption(storeOption())
    .addOption(keyFileOption())
    .action(
      withStore(false, async (store, idText: string, file: string, opts: { store: string; json?: boolean }) => {
        if (file === "-" && opts.json)
          throw new UsageError("--json prints to standard output, which - already takes for the stream");
        const id = await resolveImageId(store, idText);
        const r = await withBar(`export of ${id.slice(0, 12)}`, (update) =>
          writeOutput(file, (sink) =>
            exportImage(store, id, sink, { onProgress: (p) => update(p.bytes, p.bytesTotal) }),
          ),
        );
        if (file === "-") return;
        emit(
          opts.json,
          { imageId: id, file, bytes: r.bytes, digestKind: r.digest.kind, digest: r.digest.hex, seconds: r.seconds },
          () => "",
        );
      }),
    );

  image
    .command("ls")
    .description(
      "List images by domain name, oldest first: the domain's name and uuid, host, labels, size, the bytes each added and its last verification",
    )
    .option("--domain <name|uuid>", "only this domain's images")
    .option("--host <id>", "only images saved on this host")
    .option("--since <when>", "only images made since: an ISO date (2025-03-04) or a duration ago (36h, 7d)", since)
    .option("--label <labels>", "only images with these labels (all of them), comma separated", labels)
    .option("--latest", "only the newest image of each domain")
    .option("--json", 'print {"ok": true, "images": [...]}')
    .addOption(storeOption())
    .addOption(keyFileOption())
    .action(
      withStore(false, async (store, opts: LsFilters & { store: string; json?: boolean }) => {
        const images = selectImages(await listImages(store), opts).map(imageJson);
        emit(opts.json, { images }, () =>
          table(
            [
              { header: "IMAGE" },
              { header: "CREATED" },
              { header: "DOMAIN" },
              { header: "UUID" },
              { header: "HOST" },
              { header: "LABELS" },
              { header: "SIZE", right: true },
              { header: "NEW", right: true },
              { header: "VERIFIED" },
              { header: "HEALTH" },
            ],
            images.map((i) => [
              i.imageId.slice(0, 12),
              i.created.replace(/\.\d{3}Z$/, "Z"),
              i.domain ?? "-",
              i.uuid ?? "-",
              i.host ?? "-",
              `${i.labels.join(",") || "-"}${i.protected ? " (protected)" : ""}`,
              i.bytesTotal === null ? "(broken)" : formatSize(i.bytesTotal),
              i.bytesNew === null ? "-" : formatSize(i.bytesNew),
              i.verified === null ? "never" : `${i.verified.ok ? "ok" : "BROKEN"} ${i.verified.at.slice(0, 10)}`,
              i.healthCheck === null
                ? "never"
                : `${i.healthCheck.passed ? "passed" : "FAILED"} ${i.healthCheck.at.slice(0, 10)}`,
            ]),
          ),
        );
      }),
    );

  /** A command on one image of an existing store: `<id>` (or a unique prefix), --json, --store. */
  const onImage = (
    name: string,
    description: string,
    run: (store: ObjectStore, id: Sha256Id, json: boolean | undefined) => Promise<void>,
  ) =>
    image
      .command(name)
      .description(description)
      .argument("<id>", "image id (or a unique prefix)")
      .option("--json", "print the result as one JSON document")
      .addOption(storeOption())
      .addOption(keyFileOption())
      .action(
        withStore(false, async (store, idText: string, opts: { store: string; json?: boolean }) =>
          run(store, await resolveImageId(store, idText), opts.json),
        ),
      );

  onImage("show", "Show what an image's manifest records", async (store, id, json) => {
    const info = (await listImages(store)).find((i) => i.id === id)!;
    const m = info.manifest ?? (await loadManifest(store, id));
    const doc = {
      ...imageJson({ ...info, manifest: m }),
      digestKind: m.streamDigest.kind,
      streamDigest: m.streamDigest.hex,
      pageSize: m.pageSize,
      xenVersion: m.xenVersion === null ? null : `${m.xenVersion.major}.${m.xenVersion.minor}`,
      libxcVersion: m.libxcVersion,
      records: m.records,
      blocks: m.blocks.length,
    };
    emit(json, doc, () =>
      Object.entries(doc)
        .filter(([k]) => k !== "broken")
        .map(([k, v]) => `${`${k}:`.padEnd(14)}${Array.isArray(v) ? v.join(", ") || "-" : (v ?? "-")}`)
        .join("\n"),
    );
  });

  onImage(
    "verify",
    "Read every object of an image and check every page and the whole stream; exit 1 naming what is wrong",
    async (store, id, json) => {
      const r = await withBar(`verify of ${id.slice(0, 12)}`, (update) =>
        verifyAndRecord(store, id, { onProgress: (p) => update(p.bytes, p.bytesTotal) }),
      );
      const doc = { imageId: id, ...r };
      if (r.problem !== undefined)
        throw new WorkFailedError(`image ${id} is broken: ${r.problem.key}: ${r.problem.reason}`, {
          report: doc,
          text: `broken ${id}: ${r.problem.key}: ${r.problem.reason}`,
        });
      emit(json, doc, () => `ok ${id} ${r.bytes} bytes verified in ${r.seconds.toFixed(1)} s`);
    },
  );

  onImage("protect", "Exempt an image from pruning (prune keeps it, rm refuses it)", async (store, id, json) => {
    await protectImage(store, id);
    emit(json, { imageId: id, protected: true }, () => `protected ${id}`);
  });

  onImage("unprotect", "Let retention remove an image again", async (store, id, json) => {
    const was = await unprotectImage(store, id);
    emit(json, { imageId: id, protected: false, wasProtected: was }, () =>
      was ? `unprotected ${id}` : `${id} was not protected`,
    );
  });

  onImage("rm", "Remove an image (its refs; gc reclaims the data)", async (store, id, json) => {
    const refs = await removeImage(store, id);
    emit(json, { imageId: id, removed: refs.map(refJson) }, () => `removed ${id}`);
  });

  image
    .command("copy")
    .description(
      "Copy images, and everything they need, into the store --to names (another site; a plain store into an " +
        "encrypted one, or back): image IDs, a domain's (--domain) or all (--all). What the target has is skipped",
    )
    .argument("[ids...]", "image ids (or unique prefixes)")
    .requiredOption(
      "--to <url>",
      "the target store: a path, file:///path or s3://bucket/prefix?endpoint=...",
      storeLocation,
    )
    .option("--to-key-file <file>", "key file of the target store, when it is encrypted")
    .option("--domain <name>", "every image of this domain")
    .option("--all", "every image of the store")
    .option("--json", "print the result as one JSON document")
    .addOption(storeOption())
    .addOption(keyFileOption())
    .action(
      withStore(
        false,
        async (
          store,
          ids: string[],
          opts: { store: string; to: string; toKeyFile?: string; domain?: string; all?: boolean; json?: boolean },
        ) => {
          if ([ids.length > 0, opts.domain !== undefined, opts.all === true].filter(Boolean).length !== 1)
            throw new UsageError("name what to copy: image IDs, --domain NAME or --all (one of them)");
          const chosen =
            ids.length > 0
              ? await Promise.all(ids.map((id) => resolveImageId(store, id)))
              : [...new Set((await listImageRefs(store, opts.domain)).map((r) => r.id))];
          if (opts.domain !== undefined && chosen.length === 0)
            throw new ImageUsageError(`domain ${opts.domain} has no images in ${store.location}`);
          // The target's own credentials when it is a configured store; its key only from --to-key-file.
          const target = await openStoreConfig(imageStoreOf(opts.to, undefined).config, {
            create: true,
            ...(opts.toKeyFile === undefined ? {} : { key: { file: opts.toKeyFile } }),
          });
          try {
            const r = await withBar(`copy to ${target.location}`, (update) =>
              copyImages(store, target, chosen, { onProgress: (p) => update(p.bytes) }),
            );
            emit(
              opts.json,
              { to: target.location, ...r },
              () =>
                `copied ${r.images} images to ${target.location}: ${r.copied} objects (${formatSize(r.bytes)}) written, ${r.skipped} already there`,
            );
          } finally {
            await target.close();
          }
        },
      ),
    );

  registerHealthCheckCommand(image);

  program
    .command("prune")
    .description("Remove images a retention policy does not keep (per domain); gc reclaims their data")
    .option("--keep-last <n>", "keep the n newest images", count)
    .option("--keep-daily <n>", "keep the newest image of each of the n newest days", count)
    .option("--keep-weekly <n>", "keep the newest image of each of the n newest ISO weeks", count)
    .option("--domain <name>", "only this domain")
    .option("--label <label>", "count and remove only images with this label (per domain); others stay", label)
    .option("--dry-run", "report, remove nothing")
    .option("--json", "print the result as one JSON document")
    .addOption(storeOption())
    .addOption(keyFileOption())
    .action(
      withStore(
        false,
        async (
          store,
          opts: {
            store: string;
            json?: boolean;
            keepLast?: number;
            keepDaily?: number;
            keepWeekly?: number;
            domain?: string;
            label?: string;
            dryRun?: boolean;
          },
        ) => {
          if (opts.keepLast === undefined && opts.keepDaily === undefined && opts.keepWeekly === undefined)
            throw new UsageError("give a policy: --keep-last, --keep-daily and/or --keep-weekly");
          const r = await prune(store, {
            ...(opts.keepLast === undefined ? {} : { keepLast: opts.keepLast }),
            ...(opts.keepDaily === undefined ? {} : { keepDaily: opts.keepDaily }),
            ...(opts.keepWeekly === undefined ? {} : { keepWeekly: opts.keepWeekly }),
            ...(opts.domain === undefined ? {} : { domain: opts.domain }),
            ...(opts.label === undefined ? {} : { label: opts.label }),
            dryRun: opts.dryRun ?? false,
          });
          emit(
            opts.json,
            {
              dryRun: opts.dryRun ?? false,
              kept: r.kept.map(refJson),
              removed: r.removed.map(refJson),
              protected: r.protected.map(refJson),
            },
            () =>
              r.removed
                .map(
                  (x) => `${opts.dryRun ? "would remove" : "removed"} ${x.id} ${x.domain} ${x.created.toISOString()}`,
                )
                .join("\n"),
          );
        },
      ),
    );

  program
    .command("check")
    .description(
      "Check the whole store: every ref, manifest, block and pack present and sound, every page an image lists held; exit 1 naming each broken object and the images it breaks",
    )
    .option("--read-data", "also read every pack whole and hash every page (reads the whole store)")
    .addOption(
      new Option(
        "--read-data-subset <slice>",
        "read and hash only a deterministic slice of the packs: n/m (the n-th of m) or a percentage (10%)",
      ).argParser(checkSubset),
    )
    .option(
      "--move-aside",
      "move corrupt objects to quarantine/ and mark them, so the next save of each affected domain stores their pages anew",
    )
    .option("--json", "print the result as one JSON document")
    .addOption(storeOption())
    .addOption(keyFileOption())
    .action(
      withStore(
        false,
        async (
          store,
          opts: {
            store: string;
            json?: boolean;
            readData?: boolean;
            readDataSubset?: CheckSubset;
            moveAside?: boolean;
          },
        ) => {
          const readData = opts.readData === true || opts.readDataSubset !== undefined;
          const bar = process.stderr.isTTY ? tracker() : undefined;
          const r = await checkStore(store, {
            readData,
            moveAside: opts.moveAside ?? false,
            ...(opts.readDataSubset === undefined ? {} : { subset: opts.readDataSubset }),
            onProgress: (phase, done, total) =>
              bar?.update("check", { label: `check ${phase}`, state: "", done, total, unit: "objects" }),
          }).finally(() => bar?.stop());
          const c = r.checked;
          const text = [
            `${r.images} images: ${c.manifests} manifests, ${c.blocks} blocks, ${c.packs} packs checked` +
              (readData ? `; ${r.dataRead.packs} packs (${formatSize(r.dataRead.bytes)}) read and hashed` : ""),
            ...r.problems.map((p) => `${p.kind} ${p.key}: ${p.reason} (breaks ${p.images.length} images)`),
            ...r.brokenImages.map((i) => `broken image ${i.id} ${i.domains.join(", ")}`),
            ...r.domainsWithoutGoodImage.map((d) => `domain ${d}: its newest image is broken`),
          ].join("\n");
          const doc = { ...r, readData, subset: opts.readDataSubset ?? null };
          if (r.problems.length > 0)
            throw new WorkFailedError(`${r.problems.length} broken objects break ${r.brokenImages.length} images`, {
              report: doc,
              text,
            });
          emit(opts.json, doc, () => text);
        },
      ),
    );

  program
    .command("gc")
    .description("Delete what no image references (mark from refs, sweep with a grace period)")
    .addOption(durationOption("--grace <duration>", "keep objects younger than this (0 for none)", "1h"))
    .option("--dry-run", "report, delete nothing")
    .option("--json", "print the result as one JSON document")
    .addOption(storeOption())
    .addOption(keyFileOption())
    .action(
      withStore(false, async (store, opts: { store: string; json?: boolean; grace: number; dryRun?: boolean }) => {
        const r = await gc(store, { graceMs: opts.grace, dryRun: opts.dryRun ?? false });
        const d = r.deleted;
        const text = [
          `${r.images} images; deleted ${d.manifests} manifests, ${d.blocks} blocks, ${d.packs} packs (+${d.rewrittenPacks} rewritten), ${d.forwards} forwards, ${d.hooks} hooks, ${d.locks} stale locks, ${d.temporary} temporary files; ${formatSize(r.bytesFreed)} freed`,
          ...r.missing.map((m) => `missing: ${m}`),
        ].join("\n");
        const doc = { dryRun: opts.dryRun ?? false, ...r };
        if (r.missing.length > 0)
          throw new WorkFailedError(
            `${r.missing.length} objects live images need are missing (image verify names the images)`,
            {
              report: doc,
              text,
            },
          );
        emit(opts.json, doc, () => text);
      }),
    );
}

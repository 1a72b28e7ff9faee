/**
 * `xenfleet init` (a new store, encrypted or not) and `xenfleet key
 * add|list|remove` (the keys that open an encrypted store). A store's data
 * is encrypted under one master key; each key file or passphrase holds a
 * wrapped copy of it in the store, so keys are added and removed without
 * rewriting any data.
 */
import { existsSync } from "node:fs";
import {
  createKeyFile,
  initStore,
  readKeyFile,
  readKeyRing,
  unlockStore,
  type KeyInfo,
  type KeySecret,
  type ObjectStore,
} from "@xenfleet/store";
import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { emit, table } from "../output.js";
import { keyFileOption, PASSPHRASE_VARIABLE, storeKey, storeOption } from "./fleet-options.js";
import { imageStoreOf, openInnerImageStore } from "./image-store.js";

interface StoreOpts {
  store: string;
  keyFile?: string;
  json?: boolean;
}

async function withInnerStore<T>(location: string, create: boolean, run: (inner: ObjectStore) => Promise<T>) {
  const inner = await openInnerImageStore(location, { create });
  try {
    return await run(inner);
  } finally {
    await inner.close();
  }
}

function keyJson(k: KeyInfo) {
  return { id: k.id, kind: k.kind, created: k.created.toISOString(), label: k.label, host: k.host };
}

export function registerKeyCommands(program: Command): void {
  program
    .command("init")
    .description(
      "Make a new store: with --encrypt, encrypted under a new master key that --key-file FILE opens " +
        `(FILE is made when it does not exist; or the passphrase in ${PASSPHRASE_VARIABLE}). ` +
        "Refuses a store that already has a header or objects",
    )
    .option("--encrypt", "encrypt everything the store holds")
    .option("--label <label>", "the first key's label", "")
    .option("--json", "print the result as one JSON document")
    .addOption(storeOption())
    .addOption(keyFileOption())
    .action(async (opts: StoreOpts & { encrypt?: boolean; label: string }) => {
      const key = storeKey(opts.keyFile);
      if (!opts.encrypt && opts.keyFile)
        throw new UsageError("--key-file (or XENFLEET_KEY_FILE) is for an encrypted store: add --encrypt");
      if (opts.encrypt && key === undefined)
        throw new UsageError(`--encrypt needs --key-file FILE (or XENFLEET_KEY_FILE, or ${PASSPHRASE_VARIABLE})`);
      const r = await withInnerStore(opts.store, true, (inner) =>
        initStore(inner, { ...(opts.encrypt && key !== undefined ? { encrypt: key } : {}), label: opts.label }),
      );
      emit(
        opts.json,
        {
          store: r.location,
          encrypted: r.encrypted,
          storeId: r.storeId,
          ...(r.key === undefined
            ? {}
            : { key: { ...keyJson(r.key), ...(opts.keyFile ? { keyFile: opts.keyFile } : {}) } }),
          keyFileCreated: r.key?.keyFileCreated ?? false,
        },
        () =>
          r.key === undefined
            ? `made plain store ${r.location}`
            : `made encrypted store ${r.location}, key ${r.key.id}` +
              (r.key.keyFileCreated
                ? `\nwrote a new key file ${opts.keyFile}: keep a copy of it somewhere else; without it (or another key) the store cannot be read`
                : ""),
      );
    });

  const key = program.command("key").description("Add, list and remove the keys that open an encrypted store");

  key
    .command("list")
    .description("The keys that open the store (their metadata is not secret, so no key is needed)")
    .option("--json", 'print {"ok": true, "keys": [...]}')
    .addOption(storeOption())
    .addOption(keyFileOption())
    .action(async (opts: StoreOpts) => {
      const given = storeKey(opts.keyFile);
      const { keys, current } = await withInnerStore(opts.store, false, async (inner) => {
        const keys = await (await readKeyRing(inner)).list();
        // A key given is checked, and marked: the one this command line unlocks with.
        const current = given === undefined ? undefined : (await unlockStore(inner, given)).keys?.keyId;
        return { keys, current };
      });
      const rows = keys.map((k) => ({ ...keyJson(k), current: k.id === current }));
      emit(opts.json, { keys: rows }, () =>
        table(
          [{ header: "ID" }, { header: "KIND" }, { header: "CREATED" }, { header: "HOST" }, { header: "LABEL" }],
          rows.map((k) => [`${k.current ? "*" : " "}${k.id}`, k.kind, k.created, k.host, k.label || "-"]),
        ),
      );
    });

  key
    .command("add")
    .description(
      "Add a key that opens the store, unlocking it with one it has: --new-key-file FILE (made when it does " +
        "not exist) or the passphrase in the variable --new-passphrase-env names",
    )
    .option("--new-key-file <file>", "the new key's key file")
    .option("--new-passphrase-env <variable>", "the environment variable holding the new passphrase")
    .option("--label <label>", "the new key's label", "")
    .option("--json", "print the result as one JSON document")
    .addOption(storeOption())
    .addOption(keyFileOption())
    .action(async (opts: StoreOpts & { newKeyFile?: string; newPassphraseEnv?: string; label: string }) => {
      const secret = await newSecret(opts);
      const added = await withInnerStore(opts.store, false, async (inner) => {
        const unlocked = await unlockStore(inner, unlockKey(opts));
        if (unlocked.keys === undefined) throw new UsageError(`store ${inner.location} is not encrypted`);
        return unlocked.keys.ring.add(unlocked.keys.masterKey, secret.secret, { label: opts.label });
      });
      emit(opts.json, { key: keyJson(added), keyFileCreated: secret.created }, () =>
        [
          `added key ${added.id} (${added.kind})`,
          ...(secret.created ? [`wrote a new key file ${opts.newKeyFile}: keep a copy of it somewhere else`] : []),
        ].join("\n"),
      );
    });

  key
    .command("remove")
    .description("Remove key ID, unlocking the store with another of its keys (never the last key, nor the one given)")
    .argument("<id>", "the key's id, as `xenfleet key list` shows it")
    .option("--json", "print the result as one JSON document")
    .addOption(storeOption())
    .addOption(keyFileOption())
    .action(async (id: string, opts: StoreOpts) => {
      await withInnerStore(opts.store, false, async (inner) => {
        const unlocked = await unlockStore(inner, unlockKey(opts));
        if (unlocked.keys === undefined) throw new UsageError(`store ${inner.location} is not encrypted`);
        await unlocked.keys.ring.remove(id, unlocked.keys.keyId);
      });
      emit(opts.json, { removed: id }, () => `removed key ${id}`);
    });
}

/** The key that unlocks the store for add and remove: required. */
function unlockKey(opts: StoreOpts) {
  const key = storeKey(opts.keyFile, imageStoreOf(opts.store, opts.keyFile).key);
  if (key === undefined)
    throw new UsageError(`unlock the store with --key-file FILE (or XENFLEET_KEY_FILE, or ${PASSPHRASE_VARIABLE})`);
  return key;
}

/** The new key of `key add`: exactly one of a key file (read, or made) and a passphrase variable. */
async function newSecret(opts: {
  newKeyFile?: string;
  newPassphraseEnv?: string;
}): Promise<{ secret: KeySecret; created: boolean }> {
  if ((opts.newKeyFile === undefined) === (opts.newPassphraseEnv === undefined))
    throw new UsageError("give the new key as --new-key-file FILE or --new-passphrase-env VARIABLE (one of them)");
  if (opts.newPassphraseEnv !== undefined) {
    const passphrase = process.env[opts.newPassphraseEnv];
    if (!passphrase) throw new UsageError(`the variable ${opts.newPassphraseEnv} holds no passphrase`);
    return { secret: { kind: "passphrase", passphrase, source: opts.newPassphraseEnv }, created: false };
  }
  const path = opts.newKeyFile!;
  // One key file may open several stores: an existing one is added as it is.
  if (existsSync(path)) return { secret: { kind: "file", file: await readKeyFile(path) }, created: false };
  return { secret: { kind: "file", file: await createKeyFile(path) }, created: true };
}

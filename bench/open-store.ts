/**
 * What opening a store costs now that openStore reads its header, on a
 * filesystem store, all in one run: a plain store without a header (the
 * baseline: one GET that finds nothing), a plain store with one, an
 * encrypted store unlocked with a key file (the header and one wrapped key
 * read, HKDF, one AES-GCM open) and with a passphrase (scrypt at its
 * default cost, what every guess of an attacker costs too). Each figure is
 * the best of ROUNDS open-and-close calls, the candidates interleaved within
 * a round. Prints one JSON line.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initStore, openInnerStore, openStore, parseStoreUrl, type StoreKeySource } from "@xenfleet/store";

const ROUNDS = Number(process.env.BENCH_OPEN_ROUNDS ?? 5);
const dir = await mkdtemp(join(tmpdir(), "xenfleet-bench-open-"));

async function made(name: string, options: Parameters<typeof initStore>[1] | undefined): Promise<string> {
  const root = join(dir, name);
  const inner = await openInnerStore(parseStoreUrl(root, {}));
  if (options !== undefined) await initStore(inner, options);
  await inner.close();
  return root;
}

const passphrase: StoreKeySource = { passphrase: "a passphrase for the benchmark", source: "BENCH" };
const keyFile: StoreKeySource = { file: join(dir, "bench.key") };
const stores = {
  plainNoHeader: { root: await made("plain", undefined), key: undefined },
  plainHeader: { root: await made("plain-header", {}), key: undefined },
  keyFile: { root: await made("key-file", { encrypt: keyFile }), key: keyFile },
  passphrase: { root: await made("passphrase", { encrypt: passphrase }), key: passphrase },
};

const fastest: Record<string, number> = Object.fromEntries(Object.keys(stores).map((k) => [k, Infinity]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, { root, key }] of Object.entries(stores)) {
      const start = process.hrtime.bigint();
      const store = await openStore(root, {}, { create: false, ...(key === undefined ? {} : { key }) });
      await store.close();
      fastest[name] = Math.min(fastest[name]!, Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const ms = (value: number) => Number(value.toFixed(2));
const base = fastest.plainNoHeader!;
console.log(
  JSON.stringify({
    bench: "open-store",
    rounds: ROUNDS,
    ms: Object.fromEntries(Object.entries(fastest).map(([k, v]) => [k, ms(v)])),
    overPlainNoHeader: Object.fromEntries(Object.entries(fastest).map(([k, v]) => [k, Number((v / base).toFixed(2))])),
  }),
);

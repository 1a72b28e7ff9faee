/**
 * The cost of encryption at rest, on this machine, all in one run:
 *  - per-core throughput of Node's two AEADs sealing 64 KiB segments the
 *    way EncryptedStore does (a cipher per segment, the 80-byte header as
 *    associated data): AES-256-GCM and ChaCha20-Poly1305;
 *  - beside them BLAKE3 from the native addon over the same bytes, as 4 KiB
 *    pages in one batch (what an import hashes) and per 64 KiB segment;
 *  - a put and a whole get of a pack-sized object through EncryptedStore
 *    over a MemoryStore against the same over a bare MemoryStore
 *    (`storeRatio`: encrypted time over plain).
 * Each figure is the best of ROUNDS, the candidates interleaved within a
 * round so that load on a shared machine falls on all of them alike.
 * Prints one JSON line.
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { blake3, hashPages } from "@xenfleet/native";
import { EncryptedStore, MemoryStore, type ObjectStore } from "@xenfleet/store";

const MiB = 1024 * 1024;
const TOTAL = Number(process.env.BENCH_AEAD_MIB ?? 64) * MiB;
const ROUNDS = Number(process.env.BENCH_AEAD_ROUNDS ?? 5);
const SEGMENT = 64 * 1024;
const PACK = 8 * MiB;

const data = randomBytes(TOTAL);
const key = randomBytes(32);
const header = randomBytes(80);

function cipherFor(algorithm: "aes-256-gcm" | "chacha20-poly1305", nonce: Buffer) {
  return algorithm === "aes-256-gcm"
    ? createCipheriv(algorithm, key, nonce, { authTagLength: 16 })
    : createCipheriv(algorithm, key, nonce, { authTagLength: 16 });
}

function seal(algorithm: "aes-256-gcm" | "chacha20-poly1305"): void {
  const nonce = Buffer.alloc(12);
  for (let at = 0, i = 0; at < data.length; at += SEGMENT, i++) {
    nonce.writeUInt32BE(i, 4);
    const cipher = cipherFor(algorithm, nonce);
    cipher.setAAD(header, { plaintextLength: SEGMENT });
    cipher.update(data.subarray(at, at + SEGMENT));
    cipher.final();
    cipher.getAuthTag();
  }
}

function blake3Segments(): void {
  for (let at = 0; at < data.length; at += SEGMENT) blake3(data.subarray(at, at + SEGMENT));
}

async function putAndGet(store: ObjectStore, round: number): Promise<void> {
  for (let at = 0, n = 0; at < data.length; at += PACK, n++) {
    const key = `packs/r${round}/${n}`;
    await store.put(key, data.subarray(at, at + PACK));
    await store.get(key);
  }
}

const candidates: Record<string, (round: number) => unknown> = {
  aes256gcm: () => seal("aes-256-gcm"),
  chacha20poly1305: () => seal("chacha20-poly1305"),
  blake3Pages: () => hashPages(data),
  blake3Segments,
  storePlain: (round) => putAndGet(new MemoryStore(), round),
  storeEncrypted: (round) => putAndGet(new EncryptedStore(new MemoryStore(), randomBytes(32)), round),
};

const fastest: Record<string, number> = Object.fromEntries(Object.keys(candidates).map((k) => [k, Infinity]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(candidates)) {
    const start = process.hrtime.bigint();
    await run(round);
    fastest[name] = Math.min(fastest[name]!, Number(process.hrtime.bigint() - start) / 1e9);
  }
}

const gbps = (seconds: number) => Number((TOTAL / seconds / 1e9).toFixed(3));
const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
console.log(
  JSON.stringify({
    bench: "aead",
    mib: TOTAL / MiB,
    segmentBytes: SEGMENT,
    gbPerSecondPerCore: {
      aes256gcm: gbps(fastest.aes256gcm!),
      chacha20poly1305: gbps(fastest.chacha20poly1305!),
      blake3Pages: gbps(fastest.blake3Pages!),
      blake3Segments: gbps(fastest.blake3Segments!),
    },
    chachaOverAes: ratio(fastest.aes256gcm!, fastest.chacha20poly1305!),
    storeGbPerSecond: { plain: gbps(fastest.storePlain!), encrypted: gbps(fastest.storeEncrypted!) },
    storeRatio: ratio(fastest.storeEncrypted!, fastest.storePlain!),
    cpuAes: /\baes\b/.test(await cpuFlags()),
  }),
);

async function cpuFlags(): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  return readFile("/proc/cpuinfo", "utf8").catch(() => "");
}

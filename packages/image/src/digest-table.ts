/**
 * A map from 32-byte page digests to small integers, kept in flat typed
 * arrays: a 1 GiB image has 262144 pages, and a JavaScript Map keyed by hex
 * strings would cost a string and a map node per page. Here a digest costs
 * its 32 bytes plus two 4-byte slots, with no allocation per page.
 *
 * Open addressing with linear probing; a digest's first four bytes are
 * already uniformly distributed, so they are the hash.
 */
import type { Sha256Id } from "./keys.js";

const DIGEST = 32;

export class DigestTable {
  private digests: Buffer;
  private values: Int32Array;
  /** Each entry's first four digest bytes (its hash), checked before comparing all 32. */
  private hashes: Uint32Array;
  /** Entry index + 1 per slot; 0 marks an empty slot. */
  private slots: Int32Array;
  private mask: number;
  private count = 0;

  constructor(expected = 1024) {
    let capacity = 1024;
    while (capacity < expected * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.digests = Buffer.allocUnsafe((capacity / 2) * DIGEST);
    this.values = new Int32Array(capacity / 2);
    this.hashes = new Uint32Array(capacity / 2);
  }

  get size(): number {
    return this.count;
  }

  /** The value stored for the digest at `bytes[offset..offset+32)`, or -1. */
  get(bytes: Uint8Array, offset = 0): number {
    const entry = this.find(bytes, offset);
    return entry < 0 ? -1 : this.values[entry]!;
  }

  has(bytes: Uint8Array, offset = 0): boolean {
    return this.find(bytes, offset) >= 0;
  }

  /** Stores `value` unless the digest is present; returns the value now stored. */
  add(bytes: Uint8Array, offset: number, value: number): number {
    const found = this.find(bytes, offset);
    if (found >= 0) return this.values[found]!;
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    const entry = this.count++;
    this.digests.set(bytes.subarray(offset, offset + DIGEST), entry * DIGEST);
    this.values[entry] = value;
    this.hashes[entry] = hashOf(bytes, offset);
    this.place(entry);
    return value;
  }

  /** Replaces the value of a digest that is present (returns false if absent). */
  set(bytes: Uint8Array, offset: number, value: number): boolean {
    const found = this.find(bytes, offset);
    if (found < 0) return false;
    this.values[found] = value;
    return true;
  }

  /** Every digest held, as 64 hex digits, in the order added. */
  *hexKeys(): Generator<Sha256Id> {
    for (let e = 0; e < this.count; e++)
      yield this.digests.toString("hex", e * DIGEST, e * DIGEST + DIGEST) as Sha256Id;
  }

  private find(bytes: Uint8Array, offset: number): number {
    const hash = hashOf(bytes, offset);
    let slot = hash & this.mask;
    for (;;) {
      const stored = this.slots[slot]!;
      if (stored === 0) return -1;
      const entry = stored - 1;
      // Digests that differ almost always differ in their first bytes: compare the 32 only when those agree.
      if (
        this.hashes[entry] === hash &&
        this.digests.compare(bytes, offset, offset + DIGEST, entry * DIGEST, entry * DIGEST + DIGEST) === 0
      )
        return entry;
      slot = (slot + 1) & this.mask;
    }
  }

  private place(entry: number): void {
    let slot = this.hashes[entry]! & this.mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = entry + 1;
  }

  private grow(): void {
    const capacity = this.slots.length * 2;
    this.slots = new Int32Array(capacity);
    this.mask = capacity - 1;
    const digests = Buffer.allocUnsafe((capacity / 2) * DIGEST);
    this.digests.copy(digests, 0, 0, this.count * DIGEST);
    this.digests = digests;
    const values = new Int32Array(capacity / 2);
    values.set(this.values.subarray(0, this.count));
    this.values = values;
    const hashes = new Uint32Array(capacity / 2);
    hashes.set(this.hashes.subarray(0, this.count));
    this.hashes = hashes;
    for (let e = 0; e < this.count; e++) this.place(e);
  }
}

function hashOf(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

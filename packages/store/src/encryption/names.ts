import { type Cipher, createCipheriv, hkdfSync } from "node:crypto";

/**
 * Stored names that reveal nothing without the key, while dedup still works
 * within one key.
 *
 * Content keys (`packs/<ab>/<sha256>`) and hook keys (`hooks/<hook>/<block>`)
 * carry digests of plaintext: anyone who can hash a known page or image
 * could ask the store whether it holds it. Each such digest segment is
 * replaced by a keyed pseudo-random permutation of itself. A permutation
 * rather than a keyed hash (such as keyed BLAKE3), because callers list
 * names and parse the digests back out of them (GC reads every pack id,
 * every hook's block id): the mapping must be invertible, and being
 * deterministic it keeps "same name, same stored name", which is dedup.
 *
 * The rules, applied to one segment at a time so that a prefix of a name
 * maps to a prefix of its stored name:
 * - every run of lowercase hex digits within a segment (between
 *   characters that are not, or the segment's ends) whose length is a
 *   multiple of 4 from 16 to 64 digits (content ids are 64, hooks 24) is
 *   permuted, keeping its length (an 8-round Feistel network over its
 *   bytes, see permute); so is the id in an image
 *   ref's `<created>-<id>`, while its 15-digit time is kept and refs still
 *   list oldest first;
 * - a segment of 2 hex digits just before a segment that is wholly one
 *   permuted run is the fan-out
 *   directory of a content key: when it is the first two digits of the next
 *   segment it becomes the first two digits of that segment's permuted
 *   form, so fan-out still spreads objects evenly and reveals nothing;
 *   otherwise it is kept, and the next segment is permuted again until its
 *   form does not start with those two digits (cycle walking), so that
 *   decoding can tell the two cases apart;
 * - every other segment is kept as it is (kinds, domain names, lock ids).
 * Stored names have the same length and segment lengths as the names they
 * stand for, so every key rule holds for both.
 */
const HEX = /^[0-9a-f]+$/;
const ROUNDS = 8;

const HEX_RUNS = /[0-9a-f]+/g;
const TRAILING_HEX = /[0-9a-f]*$/;

const isPermutedRun = (run: string) => run.length >= 16 && run.length <= 64 && run.length % 4 === 0;
const isPermuted = (segment: string) => isPermutedRun(segment) && HEX.test(segment);
const isFanout = (segment: string) => segment.length === 2 && HEX.test(segment);

export class NameCipher {
  /** Round functions by run width and round, made on first use. */
  private readonly rounds = new Map<number, Cipher>();

  constructor(private readonly key: Buffer) {}

  /** The stored name of `name`. */
  encode(name: string): string {
    const segments = name.split("/");
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      const next = segments[i + 1];
      if (isFanout(segment) && next !== undefined && isPermuted(next)) {
        const permuted = this.permute(next, true);
        if (next.startsWith(segment)) {
          segments[i] = permuted.slice(0, 2);
          segments[i + 1] = permuted;
        } else {
          let walked = permuted;
          while (walked.startsWith(segment)) walked = this.permute(walked, true);
          segments[i + 1] = walked;
        }
        i++;
      } else segments[i] = this.runs(segment, true);
    }
    return segments.join("/");
  }

  /** The name whose stored name is `stored` (encode's inverse). */
  decode(stored: string): string {
    const segments = stored.split("/");
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      const next = segments[i + 1];
      if (isFanout(segment) && next !== undefined && isPermuted(next)) {
        if (next.startsWith(segment)) {
          const original = this.permute(next, false);
          segments[i] = original.slice(0, 2);
          segments[i + 1] = original;
        } else {
          let walked = this.permute(next, false);
          while (walked.startsWith(segment)) walked = this.permute(walked, false);
          segments[i + 1] = walked;
        }
        i++;
      } else segments[i] = this.runs(segment, false);
    }
    return segments.join("/");
  }

  /**
   * The longest prefix shared by the stored names of all names starting
   * with `prefix`: list that, decode, and keep the names that start with
   * `prefix`. Stops before a fan-out segment (its stored form depends on
   * the next one) and before the hex digits that end a partial last
   * segment (they may be the start of a permuted run).
   */
  storedPrefix(prefix: string): string {
    const segments = prefix.split("/");
    const partial = segments.pop()!;
    const kept: string[] = [];
    for (const segment of segments) {
      if (isFanout(segment)) return kept.map((s) => `${s}/`).join("");
      kept.push(this.runs(segment, true));
    }
    const complete = partial.slice(0, partial.length - TRAILING_HEX.exec(partial)![0].length);
    return kept.map((s) => `${s}/`).join("") + this.runs(complete, true);
  }

  /** A segment with each of its permuted runs permuted (or unpermuted). */
  private runs(segment: string, forward: boolean): string {
    return segment.replace(HEX_RUNS, (run) => (isPermutedRun(run) ? this.permute(run, forward) : run));
  }

  /**
   * The keyed Feistel permutation of a hex run (or its inverse), as hex of
   * the same length: 8 rounds over its two halves (at most 16 bytes each).
   * The round function is AES-256 of the half, zero-padded to a block,
   * under a key of its own per run width and round (HKDF of the names key),
   * truncated to the half's size: a pseudo-random function, which is what
   * Luby and Rackoff's construction asks of it. Kept as open ECB ciphers,
   * so a round costs one block, not a key schedule: GC decodes every name.
   */
  private permute(hex: string, forward: boolean): string {
    const bytes = Buffer.from(hex, "hex");
    const half = bytes.length / 2;
    let left: Buffer = bytes.subarray(0, half);
    let right: Buffer = bytes.subarray(half);
    for (let r = 0; r < ROUNDS; r++) {
      const round = forward ? r : ROUNDS - 1 - r;
      if (forward) [left, right] = [right, xor(left, this.roundFunction(round, bytes.length, right))];
      else [left, right] = [xor(right, this.roundFunction(round, bytes.length, left)), left];
    }
    return Buffer.concat([left, right]).toString("hex");
  }

  private roundFunction(round: number, width: number, input: Buffer): Buffer {
    const id = width * ROUNDS + round;
    let cipher = this.rounds.get(id);
    if (cipher === undefined) {
      const key = Buffer.from(hkdfSync("sha256", this.key, Buffer.alloc(0), `names ${width} ${round}`, 32));
      cipher = createCipheriv("aes-256-ecb", key, null).setAutoPadding(false);
      this.rounds.set(id, cipher);
    }
    const block = Buffer.alloc(16);
    input.copy(block);
    return cipher.update(block);
  }
}

function xor(a: Buffer, mask: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ mask[i]!;
  return out;
}

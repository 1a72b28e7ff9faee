/**
 * Pulls exact byte counts from an async source of chunks, tracking the
 * offset. Legacy streams have no framing to skip by, so the reader consumes
 * each field exactly as legacy.py describes it (see layout.ts).
 *
 * Memory: `exact(n)` keeps only bytes that have arrived, so a hostile length
 * on a short stream fails as truncation before anything of that size is
 * allocated; large blobs go through `pieces(n)`, which never holds more than
 * one source chunk.
 */
import { LegacyStreamError } from "./errors.js";

export class ByteReader {
  /** Bytes consumed so far. */
  offset = 0;
  private readonly iterator: AsyncIterator<Uint8Array>;
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Buffers until `n` bytes are available or the source ends; returns what is available. */
  private async fill(n: number): Promise<number> {
    while (this.buffered < n && !this.ended) {
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      if (next.value.length === 0) continue;
      this.chunks.push(next.value);
      this.buffered += next.value.length;
    }
    return this.buffered;
  }

  /** Up to `n` bytes without consuming them (fewer at the end of the stream). */
  async peek(n: number): Promise<Uint8Array> {
    await this.fill(n);
    return this.gather(Math.min(n, this.buffered), false);
  }

  /** Exactly `n` bytes, or a truncation error naming `part` and `expected`. */
  async exact(n: number, part: string, expected: string): Promise<Uint8Array> {
    if ((await this.fill(n)) < n) this.truncated(part, expected, n);
    return this.gather(n, true);
  }

  /** Consumes `n` bytes as they arrive, in source-sized pieces. */
  async *pieces(n: number, part: string, expected: string): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if ((await this.fill(1)) === 0) this.truncated(part, expected, left);
      const head = this.chunks[0]!;
      const take = Math.min(left, head.length);
      left -= take;
      yield this.gather(take, true);
    }
  }

  async atEnd(): Promise<boolean> {
    return (await this.fill(1)) === 0;
  }

  /** Reads and drops whatever is left; returns how many bytes that was. */
  async drain(): Promise<number> {
    let total = 0;
    while ((await this.fill(1)) > 0) {
      total += this.buffered;
      this.offset += this.buffered;
      this.chunks = [];
      this.buffered = 0;
    }
    return total;
  }

  private truncated(part: string, expected: string, wanted: number): never {
    throw new LegacyStreamError({
      reason: "truncated",
      offset: this.offset,
      part,
      expected,
      actual: `end of stream after ${this.buffered} of ${wanted} bytes`,
    });
  }

  /** Takes `n` buffered bytes (copying only when they span chunks). */
  private gather(n: number, consume: boolean): Uint8Array {
    const head = this.chunks[0];
    let out: Uint8Array;
    if (n === 0) out = new Uint8Array(0);
    else if (head !== undefined && head.length >= n) out = head.subarray(0, n);
    else {
      out = new Uint8Array(n);
      let at = 0;
      for (const chunk of this.chunks) {
        const take = Math.min(chunk.length, n - at);
        out.set(chunk.subarray(0, take), at);
        at += take;
        if (at === n) break;
      }
    }
    if (consume) this.consume(n);
    return out;
  }

  private consume(n: number): void {
    this.offset += n;
    this.buffered -= n;
    let left = n;
    while (left > 0) {
      const head = this.chunks[0]!;
      if (head.length <= left) {
        this.chunks.shift();
        left -= head.length;
      } else {
        this.chunks[0] = head.subarray(left);
        left = 0;
      }
    }
  }
}

/**
 * Small helpers for fixed-width integers in either byte order. The streams
 * state their byte order once in a header; everything below takes it as a
 * boolean so the hot paths never branch on a string.
 */

export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Builds a byte array of known size field by field. */
export class ByteBuilder {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private pos = 0;

  constructor(
    size: number,
    private readonly littleEndian: boolean,
  ) {
    this.bytes = new Uint8Array(size);
    this.view = dataView(this.bytes);
  }

  u8(value: number): this {
    this.view.setUint8(this.pos, value);
    this.pos += 1;
    return this;
  }
  u16(value: number): this {
    this.view.setUint16(this.pos, value, this.littleEndian);
    this.pos += 2;
    return this;
  }
  u32(value: number): this {
    this.view.setUint32(this.pos, value >>> 0, this.littleEndian);
    this.pos += 4;
    return this;
  }
  u64(value: bigint): this {
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, value), this.littleEndian);
    this.pos += 8;
    return this;
  }
  raw(bytes: Uint8Array): this {
    this.bytes.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }
  /** Leaves zero bytes (reserved fields, padding). */
  skip(count: number): this {
    this.pos += count;
    return this;
  }
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

export function isAllZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

export function hex(value: number | bigint, width = 8): string {
  return "0x" + value.toString(16).padStart(width, "0");
}

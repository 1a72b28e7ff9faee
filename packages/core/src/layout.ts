/**
 * Fixed binary headers declared once. A layout names each field of a header
 * with its type and byte offset, and states the byte order once for the whole
 * header; the encoder and the decoder of a format both go through it, so no
 * other code of the format knows an offset or a byte order.
 *
 *   const HEADER = defineLayout("pack header", {
 *     size: 16,
 *     byteOrder: "little",
 *     fields: { magic: field.bytes(0, 8), version: field.u8(8), count: field.u32(12) },
 *   });
 *   HEADER.encode({ magic, version: 1, count: 3 }); // 16 bytes, bytes 9-11 zero
 *   HEADER.decode(bytes).count;
 *
 * Integers are unsigned. A u64 reads as a number: the fleet's formats use
 * u64 for lengths, counts and times, all below 2^53, and a reader bounds
 * them anyway (a larger value reads inexactly and fails that check).
 * A `bytes` field reads as a view of the input, not a copy.
 */

export type ByteOrder = "little" | "big";

export type IntegerType = "u8" | "u16" | "u32" | "u64";

export type FieldSpec =
  | { readonly type: IntegerType; readonly offset: number }
  | { readonly type: "bytes"; readonly offset: number; readonly length: number };

/** Field constructors: `field.u32(12)` is a u32 at byte 12; `field.bytes(0, 8)` eight bytes at byte 0. */
export const field = {
  u8: (offset: number) => ({ type: "u8", offset }) as const,
  u16: (offset: number) => ({ type: "u16", offset }) as const,
  u32: (offset: number) => ({ type: "u32", offset }) as const,
  u64: (offset: number) => ({ type: "u64", offset }) as const,
  bytes: (offset: number, length: number) => ({ type: "bytes", offset, length }) as const,
};

const WIDTHS: Readonly<Record<IntegerType, number>> = { u8: 1, u16: 2, u32: 4, u64: 8 };

export type FieldValue<S extends FieldSpec> = S extends { type: "bytes" } ? Buffer : number;

export type LayoutValues<F extends Record<string, FieldSpec>> = { [K in keyof F]: FieldValue<F[K]> };

/** What encode takes: a field left out is written as zeroes (a reserved field, a checksum filled in afterwards). */
export type LayoutInput<F extends Record<string, FieldSpec>> = {
  [K in keyof F]?: F[K] extends { type: "bytes" } ? Uint8Array : number;
};

/** The offset table of a layout: `size`, then each field's byte offset. */
export type LayoutOffsets<F extends Record<string, FieldSpec>> = { readonly size: number } & {
  readonly [K in keyof F]: number;
};

export interface Layout<F extends Record<string, FieldSpec>> {
  /** Names the header in errors. */
  readonly name: string;
  readonly size: number;
  readonly byteOrder: ByteOrder;
  readonly fields: F;
  /** `{ size, field: offset, ... }`, the table a size test pins and a test that edits bytes uses. */
  readonly offsets: LayoutOffsets<F>;
  /** A new buffer of `size` bytes holding the header. */
  encode(values: LayoutInput<F>): Buffer;
  /** Writes the header into `target` at byte `at` (zeroing the bytes no given field covers). */
  encodeInto(target: Uint8Array, at: number, values: LayoutInput<F>): void;
  /** Reads the header at byte `at`; a buffer holding fewer than `size` bytes from there is refused with a RangeError. */
  decode(bytes: Uint8Array, at?: number): LayoutValues<F>;
}

export interface LayoutDeclaration<F extends Record<string, FieldSpec>> {
  readonly size: number;
  /** The byte order of every integer in the header. */
  readonly byteOrder: ByteOrder;
  readonly fields: F;
}

interface CompiledField {
  readonly name: string;
  readonly offset: number;
  read(b: Buffer, at: number): number | Buffer;
  write(b: Buffer, at: number, value: unknown): void;
}

/**
 * Declares a header. Refuses (TypeError) a field outside the header, two
 * fields that overlap, or a field named `size`, which the offset table
 * reserves for the header's size.
 */
export function defineLayout<const F extends Record<string, FieldSpec>>(
  name: string,
  declaration: LayoutDeclaration<F>,
): Layout<F> {
  const { size, byteOrder, fields } = declaration;
  const little = byteOrder === "little";
  const compiled: CompiledField[] = [];
  const taken = new Array<string | undefined>(size);
  for (const [fieldName, spec] of Object.entries(fields)) {
    if (fieldName === "size") throw new TypeError(`${name}: a field may not be named "size"`);
    const width = spec.type === "bytes" ? spec.length : WIDTHS[spec.type];
    if (!Number.isInteger(spec.offset) || !Number.isInteger(width) || spec.offset < 0 || spec.offset + width > size) {
      throw new TypeError(`${name}: field ${fieldName} (${width} bytes at ${spec.offset}) lies outside ${size} bytes`);
    }
    for (let i = spec.offset; i < spec.offset + width; i++) {
      if (taken[i] !== undefined) throw new TypeError(`${name}: fields ${taken[i]} and ${fieldName} overlap at ${i}`);
      taken[i] = fieldName;
    }
    compiled.push(compileField(fieldName, spec, little));
  }
  const offsets = { size } as Record<string, number>;
  for (const f of compiled) offsets[f.name] = f.offset;

  const encodeInto = (target: Uint8Array, at: number, values: LayoutInput<F>): void => {
    const b = asBuffer(target);
    checkRoom(name, size, b, at);
    b.fill(0, at, at + size);
    const given = values as Record<string, unknown>;
    for (const f of compiled) {
      const value = given[f.name];
      if (value !== undefined) f.write(b, at, value);
    }
  };

  return {
    name,
    size,
    byteOrder,
    fields,
    offsets: Object.freeze(offsets) as LayoutOffsets<F>,
    encodeInto,
    encode(values) {
      const out = Buffer.alloc(size);
      encodeInto(out, 0, values);
      return out;
    },
    decode(bytes, at = 0) {
      const b = asBuffer(bytes);
      checkRoom(name, size, b, at);
      const out: Record<string, number | Buffer> = {};
      for (const f of compiled) out[f.name] = f.read(b, at);
      return out as LayoutValues<F>;
    },
  };
}

function compileField(name: string, spec: FieldSpec, little: boolean): CompiledField {
  const { offset } = spec;
  switch (spec.type) {
    case "bytes": {
      const { length } = spec;
      return {
        name,
        offset,
        read: (b, at) => b.subarray(at + offset, at + offset + length),
        write: (b, at, value) => {
          const bytes = value as Uint8Array;
          if (bytes.length !== length)
            throw new RangeError(`field ${name} takes ${length} bytes, was given ${bytes.length}`);
          b.set(bytes, at + offset);
        },
      };
    }
    case "u64":
      return {
        name,
        offset,
        read: (b, at) => Number(little ? b.readBigUInt64LE(at + offset) : b.readBigUInt64BE(at + offset)),
        write: (b, at, value) => {
          const big = BigInt(value as number);
          if (little) b.writeBigUInt64LE(big, at + offset);
          else b.writeBigUInt64BE(big, at + offset);
        },
      };
    default: {
      const width = WIDTHS[spec.type];
      // Buffer's own methods: a value out of the field's range is refused (ERR_OUT_OF_RANGE), never wrapped.
      return {
        name,
        offset,
        read: (b, at) => (little ? b.readUIntLE(at + offset, width) : b.readUIntBE(at + offset, width)),
        write: (b, at, value) => {
          if (little) b.writeUIntLE(value as number, at + offset, width);
          else b.writeUIntBE(value as number, at + offset, width);
        },
      };
    }
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkRoom(name: string, size: number, b: Buffer, at: number): void {
  if (!Number.isInteger(at) || at < 0 || b.length - at < size) {
    throw new RangeError(
      `${name}: ${size} bytes needed at offset ${at}, the buffer holds ${Math.max(0, b.length - at)} from there`,
    );
  }
}

import { describe, expect, it } from "vitest";
import { defineLayout, field } from "../src/index.js";

const sample = (byteOrder: "little" | "big") =>
  defineLayout("sample header", {
    size: 24,
    byteOrder,
    fields: {
      magic: field.bytes(0, 4),
      kind: field.u8(4),
      flags: field.u16(6),
      count: field.u32(8),
      length: field.u64(12),
    },
  });

describe("layouts", () => {
  it("place each field at its offset in the byte order stated once, and leave the rest zero", () => {
    const values = { magic: Buffer.from("ABCD"), kind: 7, flags: 0x0102, count: 0x03040506, length: 2 ** 40 + 9 };
    expect(sample("little").encode(values).toString("hex")).toBe(
      "41424344" + "0700" + "0201" + "06050403" + "0900000000010000" + "00000000",
    );
    expect(sample("big").encode(values).toString("hex")).toBe(
      "41424344" + "0700" + "0102" + "03040506" + "0000010000000009" + "00000000",
    );
  });

  it("decode what they encode, at an offset too", () => {
    const layout = sample("big");
    const buffer = Buffer.alloc(30, 0xee);
    layout.encodeInto(buffer, 3, { magic: Buffer.from("WXYZ"), count: 5, length: 1 });
    expect(buffer[2]).toBe(0xee);
    expect(buffer[27]).toBe(0xee);
    const back = layout.decode(new Uint8Array(buffer), 3);
    expect({ ...back, magic: back.magic.toString("latin1") }).toEqual({
      magic: "WXYZ",
      kind: 0,
      flags: 0,
      count: 5,
      length: 1,
    });
  });

  it("give the offset table a size test pins", () => {
    expect(sample("little").offsets).toEqual({ size: 24, magic: 0, kind: 4, flags: 6, count: 8, length: 12 });
  });

  it("refuse a short buffer, naming the header and the bytes missing", () => {
    const layout = sample("little");
    expect(() => layout.decode(Buffer.alloc(23))).toThrow(
      new RangeError("sample header: 24 bytes needed at offset 0, the buffer holds 23 from there"),
    );
    expect(() => layout.decode(Buffer.alloc(30), 10)).toThrow(/24 bytes needed at offset 10, the buffer holds 20/);
    expect(() => layout.encodeInto(Buffer.alloc(24), 1, {})).toThrow(RangeError);
  });

  it("refuse a value the field cannot hold rather than wrap it", () => {
    const layout = sample("little");
    expect(() => layout.encode({ kind: 256 })).toThrow(RangeError);
    expect(() => layout.encode({ count: -1 })).toThrow(RangeError);
    expect(() => layout.encode({ magic: Buffer.from("ABC") })).toThrow(/takes 4 bytes, was given 3/);
  });

  it("refuse a declaration with overlapping fields, a field past the end or one named size", () => {
    const declare = (fields: Record<string, ReturnType<typeof field.u32>>) =>
      defineLayout("bad", { size: 8, byteOrder: "little", fields });
    expect(() => declare({ a: field.u32(0), b: field.u32(2) })).toThrow(/fields a and b overlap at 2/);
    expect(() => declare({ a: field.u32(6) })).toThrow(/outside 8 bytes/);
    expect(() => declare({ size: field.u32(0) })).toThrow(/named "size"/);
  });
});

import { describe, expect, it } from "vitest";
import {
  LIBXC_RECORDS,
  LIBXL_RECORDS,
  SIZES,
  XL_MAGIC,
  encodeDomainHeader,
  encodeImageHeader,
  encodeLibxlHeader,
  encodeXlHeader,
  pageTypeHasData,
  isValidPageType,
} from "../src/index.js";
import { ByteBuilder } from "../src/bytes.js";

describe("size table", () => {
  it("pins the header layouts the specs draw", () => {
    expect(SIZES.imageHeader).toBe(24);
    expect(SIZES.domainHeader).toBe(16);
    expect(SIZES.recordHeader).toBe(8);
    expect(SIZES.libxlHeader).toBe(16);
    expect(SIZES.xlHeader).toBe(48);
    expect(XL_MAGIC.length).toBe(32);
  });

  it("matches what the encoders produce", () => {
    expect(encodeImageHeader(3, "little").length).toBe(SIZES.imageHeader);
    expect(encodeDomainHeader("x86-pv", 4, 17, true).length).toBe(SIZES.domainHeader);
    expect(encodeLibxlHeader("little").length).toBe(SIZES.libxlHeader);
    expect(encodeXlHeader({ byteOrder: "little" }).length).toBe(SIZES.xlHeader);
  });

  it("writes the image header big-endian whatever the stream's byte order", () => {
    expect(Buffer.from(encodeImageHeader(3, "little")).toString("hex")).toBe(
      "ffffffffffffffff58454e4600000003" + "0000000000000000",
    );
    expect(Buffer.from(encodeImageHeader(2, "big")).toString("hex")).toBe(
      "ffffffffffffffff58454e4600000002" + "0001000000000000",
    );
    expect(Buffer.from(encodeLibxlHeader("big")).toString("hex")).toBe(
      Buffer.from("LibxlFmt").toString("hex") + "0000000200000001",
    );
  });

  it("writes the domain header in the stream's byte order", () => {
    expect(Buffer.from(encodeDomainHeader("x86-hvm", 4, 17, true)).toString("hex")).toBe(
      "020000000c000000" + "0400000011000000",
    );
    expect(Buffer.from(encodeDomainHeader("x86-hvm", 4, 17, false)).toString("hex")).toBe(
      "00000002000c0000" + "0000000400000011",
    );
  });
});

describe("record tables", () => {
  it("declare each type once, under its own name, with Xen 4.17's numbers", () => {
    for (const table of [LIBXC_RECORDS, LIBXL_RECORDS]) {
      const types = Object.values(table).map((s) => s.type);
      expect(new Set(types).size).toBe(types.length);
      for (const [name, s] of Object.entries(table)) expect(s.name).toBe(name);
    }
    expect(Object.values(LIBXC_RECORDS).map((s) => s.type)).toEqual(Array.from({ length: 0x13 }, (_, i) => i));
    expect(Object.values(LIBXL_RECORDS).map((s) => s.type)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("give page types 0-4 and 9-12 data, 13-15 none, and refuse 5-8", () => {
    const withData = Array.from({ length: 16 }, (_, t) => t).filter(pageTypeHasData);
    expect(withData).toEqual([0, 1, 2, 3, 4, 9, 10, 11, 12]);
    expect([5, 6, 7, 8].map(isValidPageType)).toEqual([false, false, false, false]);
  });

  it("ByteBuilder places u64 values in the requested byte order", () => {
    expect(Buffer.from(new ByteBuilder(8, false).u64(0x0102030405060708n).bytes).toString("hex")).toBe(
      "0102030405060708",
    );
    expect(Buffer.from(new ByteBuilder(8, true).u64(0x0102030405060708n).bytes).toString("hex")).toBe(
      "0807060504030201",
    );
  });
});

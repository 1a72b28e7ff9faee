/**
 * The xl save-file header in front of a legacy image. xl (Xen 4.2-4.5)
 * wrote the same header as today (tools/xl/xl.h, struct save_file_header)
 * but without the STREAMV2 mandatory flag, followed by the legacy libxc
 * stream. Xen's convert-legacy-stream copies the header through and, when
 * it writes a libxl stream, sets STREAMV2; we do the same.
 */
import { ByteBuilder, dataView, hex } from "../bytes.js";
import { SIZES, XL_BYTEORDER_VALUE, XL_MAGIC, XL_MANDATORY_FLAG_ALL, XL_MANDATORY_FLAG_STREAMV2 } from "../layout.js";
import { startsWithXlMagic } from "../xl-header.js";
import { LegacyStreamError } from "./errors.js";

/** xl's restore reads the config into memory; so do we, up to this size. */
export const MAX_XL_OPTIONAL_DATA = 16 * 1024 * 1024;

export interface LegacyXlHeader {
  mandatoryFlags: number;
  optionalFlags: number;
  optionalDataLength: number;
}

export function isXlHeader(bytes: Uint8Array): boolean {
  return bytes.length >= XL_MAGIC.length && startsWithXlMagic(bytes);
}

/** Decodes the fixed 48 bytes of an xl header that must announce a legacy stream. */
export function decodeLegacyXlHeader(bytes: Uint8Array, offset: number): LegacyXlHeader {
  const fail = (
    expected: string,
    actual: string,
    reason: "bad-value" | "not-legacy" | "bad-count" = "bad-value",
  ): never => {
    throw new LegacyStreamError({ reason, offset, part: "xl header", expected, actual });
  };
  const v = dataView(bytes);
  const order = v.getUint32(32, true);
  // Legacy streams come from x86 hosts only: a big-endian header is not one.
  if (order !== XL_BYTEORDER_VALUE) fail(`little-endian byte-order word ${hex(XL_BYTEORDER_VALUE)}`, hex(order));
  const mandatoryFlags = v.getUint32(36, true);
  const unknown = mandatoryFlags & ~XL_MANDATORY_FLAG_ALL;
  if (unknown) fail("only the JSON mandatory flag", hex(unknown));
  if (mandatoryFlags & XL_MANDATORY_FLAG_STREAMV2) {
    fail(
      "no STREAMV2 mandatory flag (this is a v2 stream; read it with readStream)",
      hex(mandatoryFlags),
      "not-legacy",
    );
  }
  const optionalDataLength = v.getUint32(44, true);
  if (optionalDataLength > MAX_XL_OPTIONAL_DATA)
    fail(`optional data of at most ${MAX_XL_OPTIONAL_DATA} bytes`, String(optionalDataLength), "bad-count");
  return { mandatoryFlags, optionalFlags: v.getUint32(40, true), optionalDataLength };
}

/** The header the converted stream starts with: as read, plus STREAMV2 for a libxl stream. */
export function encodeConvertedXlHeader(header: LegacyXlHeader, optionalData: Uint8Array, libxl: boolean): Uint8Array {
  const flags = header.mandatoryFlags | (libxl ? XL_MANDATORY_FLAG_STREAMV2 : 0);
  return new ByteBuilder(SIZES.xlHeader + optionalData.length, true)
    .raw(XL_MAGIC)
    .u32(XL_BYTEORDER_VALUE)
    .u32(flags)
    .u32(header.optionalFlags)
    .u32(header.optionalDataLength)
    .raw(optionalData).bytes;
}

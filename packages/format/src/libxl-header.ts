/**
 * The libxl stream header: ident "LibxlFmt", version 2, options (byte
 * order, legacy-converted). Always big-endian.
 *
 * Spec: libxl-migration-stream.html section 3 "Header".
 */
import { ByteBuilder, dataView, hex } from "./bytes.js";
import type { Fail } from "./grammar.js";
import {
  type ByteOrder,
  LIBXL_IDENT,
  LIBXL_OPT_BIG_ENDIAN,
  LIBXL_OPT_LEGACY,
  LIBXL_OPT_RESERVED,
  LIBXL_VERSION,
  SIZES,
} from "./layout.js";

export interface LibxlHeader {
  version: 2;
  byteOrder: ByteOrder;
  legacy: boolean;
}

export function startsWithLibxlIdent(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && dataView(bytes).getBigUint64(0, false) === LIBXL_IDENT;
}

export function decodeLibxlHeader(bytes: Uint8Array, fail: Fail): LibxlHeader {
  const v = dataView(bytes);
  const ident = v.getBigUint64(0, false);
  if (ident !== LIBXL_IDENT) fail("bad-magic", `ident ${hex(LIBXL_IDENT, 16)} ("LibxlFmt")`, hex(ident, 16));
  const version = v.getUint32(8, false);
  if (version !== LIBXL_VERSION) fail("unsupported-version", `libxl version ${LIBXL_VERSION}`, String(version));
  const options = v.getUint32(12, false);
  if (options & LIBXL_OPT_RESERVED) fail("reserved-bits", "zero bits 2-31 in the libxl options", hex(options));
  return {
    version: 2,
    byteOrder: options & LIBXL_OPT_BIG_ENDIAN ? "big" : "little",
    legacy: (options & LIBXL_OPT_LEGACY) !== 0,
  };
}

export function encodeLibxlHeader(byteOrder: ByteOrder, legacy = false): Uint8Array {
  const options = (byteOrder === "big" ? LIBXL_OPT_BIG_ENDIAN : 0) | (legacy ? LIBXL_OPT_LEGACY : 0);
  return new ByteBuilder(SIZES.libxlHeader, false).u64(LIBXL_IDENT).u32(LIBXL_VERSION).u32(options).bytes;
}

/**
 * The xl save-file header: a 32-byte magic line, then four u32 in the saving
 * host's byte order (byte-order word 0x01020304, mandatory flags, optional
 * flags, optional data length), then the optional data: a u32 config length
 * and the domain config (JSON with a trailing NUL when the JSON flag is set).
 *
 * Source: Xen tools/xl/xl.h (struct save_file_header),
 * tools/xl/xl_saverestore.c (writer) and tools/xl/xl_vmcontrol.c (reader).
 */
import { ByteBuilder, dataView, hex } from "./bytes.js";
import type { Fail } from "./grammar.js";
import {
  type ByteOrder,
  SIZES,
  XL_BYTEORDER_VALUE,
  XL_MAGIC,
  XL_MANDATORY_FLAG_ALL,
  XL_MANDATORY_FLAG_JSON,
  XL_MANDATORY_FLAG_STREAMV2,
} from "./layout.js";

export interface XlFixedHeader {
  byteOrder: ByteOrder;
  mandatoryFlags: number;
  optionalFlags: number;
  optionalDataLength: number;
}

export interface XlConfig {
  json: boolean;
  configText: string | undefined;
  config: unknown;
}

export function startsWithXlMagic(bytes: Uint8Array): boolean {
  for (let i = 0; i < Math.min(bytes.length, XL_MAGIC.length); i++) if (bytes[i] !== XL_MAGIC[i]) return false;
  return true;
}

/** Decodes the fixed 48 bytes; refuses what xl's restore refuses. */
export function decodeXlFixedHeader(bytes: Uint8Array, maxOptionalData: number, fail: Fail): XlFixedHeader {
  if (!startsWithXlMagic(bytes)) fail("bad-magic", 'the xl magic "Xen saved domain, xl format\\n \\0 \\r"');
  const v = dataView(bytes);
  const little = v.getUint32(32, true) === XL_BYTEORDER_VALUE;
  if (!little && v.getUint32(32, false) !== XL_BYTEORDER_VALUE) {
    fail("bad-value", `byte-order word ${hex(XL_BYTEORDER_VALUE)} in either byte order`, hex(v.getUint32(32, false)));
  }
  const mandatoryFlags = v.getUint32(36, little);
  const optionalFlags = v.getUint32(40, little);
  const optionalDataLength = v.getUint32(44, little);
  const unknown = mandatoryFlags & ~XL_MANDATORY_FLAG_ALL;
  if (unknown) fail("reserved-bits", "only the JSON and STREAMv2 mandatory flags", hex(unknown));
  if (!(mandatoryFlags & XL_MANDATORY_FLAG_STREAMV2)) {
    fail(
      "unsupported-version",
      "the STREAMv2 mandatory flag (a legacy stream must be converted first)",
      hex(mandatoryFlags),
    );
  }
  if (optionalDataLength > maxOptionalData) {
    fail("too-large", `optional data of at most ${maxOptionalData} bytes`, String(optionalDataLength));
  }
  return { byteOrder: little ? "little" : "big", mandatoryFlags, optionalFlags, optionalDataLength };
}

/** Extracts the domain config from the optional data, defensively. */
export function decodeXlConfig(header: XlFixedHeader, data: Uint8Array, fail: Fail): XlConfig {
  const json = (header.mandatoryFlags & XL_MANDATORY_FLAG_JSON) !== 0;
  if (data.length === 0) return { json, configText: undefined, config: undefined };
  if (data.length < 4) fail("bad-config", "a 4-byte config length in the optional data", `${data.length} bytes`);
  const length = dataView(data).getUint32(0, header.byteOrder === "little");
  // Bytes after the config are "skip, or skip tail, if not understood" per xl.h.
  if (length > data.length - 4) fail("bad-config", `a config of at most ${data.length - 4} bytes`, String(length));
  let end = 4 + length;
  while (end > 4 && data[end - 1] === 0) end--;
  let configText: string;
  try {
    configText = new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(4, end));
  } catch {
    return fail("bad-config", "a UTF-8 domain config");
  }
  if (!json) return { json, configText, config: undefined };
  const depth = jsonDepth(configText, MAX_CONFIG_DEPTH);
  if (depth > MAX_CONFIG_DEPTH)
    fail("bad-config", `a JSON domain config nested at most ${MAX_CONFIG_DEPTH} deep`, `more than ${MAX_CONFIG_DEPTH}`);
  try {
    return { json, configText, config: JSON.parse(configText) as unknown };
  } catch (err) {
    return fail("bad-config", "a JSON domain config", err instanceof Error ? err.message.slice(0, 200) : undefined);
  }
}

/**
 * How deeply a JSON domain config may nest. libxl's configs nest about five
 * deep; a hostile one nested thousands deep parses (V8's JSON.parse is
 * iterative) but then overflows the stack of whatever walks it next
 * (JSON.stringify when the config is written back, a schema check, a logger).
 */
export const MAX_CONFIG_DEPTH = 64;

/**
 * The nesting depth of JSON text, counted without parsing and without
 * recursion; stops counting once past `limit`. Brackets inside strings do
 * not count. Malformed text is left for JSON.parse to refuse.
 */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

export interface XlHeaderOptions {
  byteOrder: ByteOrder;
  /** JSON domain config; written with the JSON flag and a trailing NUL, as xl does. */
  config?: unknown;
  /** A config in xl's text format instead (no JSON flag). */
  configText?: string;
  optionalFlags?: number;
}

export function encodeXlHeader(options: XlHeaderOptions): Uint8Array {
  const little = options.byteOrder === "little";
  let mandatory = XL_MANDATORY_FLAG_STREAMV2;
  let config: Uint8Array | undefined;
  if (options.config !== undefined) {
    mandatory |= XL_MANDATORY_FLAG_JSON;
    config = new TextEncoder().encode(JSON.stringify(options.config) + "\0");
  } else if (options.configText !== undefined) {
    config = new TextEncoder().encode(options.configText + "\0");
  }
  const optionalLength = config ? 4 + config.length : 0;
  const b = new ByteBuilder(SIZES.xlHeader + optionalLength, little)
    .raw(XL_MAGIC)
    .u32(XL_BYTEORDER_VALUE)
    .u32(mandatory)
    .u32(options.optionalFlags ?? 0)
    .u32(optionalLength);
  if (config) b.u32(config.length).raw(config);
  return b.bytes;
}

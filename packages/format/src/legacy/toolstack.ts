/**
 * libxl's legacy "toolstack" chunk (XC_SAVE_ID_TOOLSTACK): qemu's physmap,
 * which a v2 libxl stream carries as xenstore keys in an
 * EMULATOR_XENSTORE_DATA record instead. Layout reference: the "Libxl"
 * section of Xen's tools/python/xen/migration/legacy.py and
 * read_libxl_toolstack() in convert-legacy-stream.
 *
 * Version 1: u32 version, u32 count, then per entry u64 phys_offset,
 * u64 start_addr, u64 size, u32 namelen, name (NUL-terminated). A 64-bit
 * libxl leaked the struct's 4 bytes of tail padding after every name, so an
 * entry is 4 bytes longer when the toolstack was 64-bit.
 */
import { dataView } from "../bytes.js";
import { LegacyStreamError } from "./errors.js";
import { PHYSMAP_HEAD, PHYSMAP_PADDING_64, TOOLSTACK_HEAD, TOOLSTACK_VERSION, type ToolstackWidth } from "./layout.js";

/** Xenstore key/value pairs (latin1 strings, so any byte survives) for the physmap entries. */
export function physmapEntries(data: Uint8Array, width: ToolstackWidth, offset: number): [string, string][] {
  const fail = (expected: string, actual?: string): never => {
    throw new LegacyStreamError({ reason: "bad-value", offset, part: "chunk TOOLSTACK", expected, actual });
  };
  if (data.length < TOOLSTACK_HEAD)
    fail(`at least ${TOOLSTACK_HEAD} bytes of libxl toolstack data`, String(data.length));
  const v = dataView(data);
  const version = v.getUint32(0, true);
  const count = v.getUint32(4, true);
  if (version !== TOOLSTACK_VERSION) fail(`libxl toolstack version ${TOOLSTACK_VERSION}`, String(version));
  const pad = width === 64 ? PHYSMAP_PADDING_64 : 0;
  const entries: [string, string][] = [];
  let at = TOOLSTACK_HEAD;
  for (let i = 0; i < count; i++) {
    if (data.length - at < PHYSMAP_HEAD)
      fail(`a ${PHYSMAP_HEAD}-byte header for physmap entry ${i}`, `${data.length - at} bytes left`);
    const phys = v.getBigUint64(at, true);
    const startAddr = v.getBigUint64(at + 8, true);
    const size = v.getBigUint64(at + 16, true);
    const nameLength = v.getUint32(at + 24, true);
    at += PHYSMAP_HEAD;
    if (nameLength === 0) fail(`a name for physmap entry ${i}`, "namelen 0");
    if (data.length - at < nameLength + pad)
      fail(`${nameLength + pad} bytes of name for physmap entry ${i}`, `${data.length - at} bytes left`);
    const name = data.subarray(at, at + nameLength);
    at += nameLength + pad;
    if (name[name.length - 1] !== 0) fail(`a NUL-terminated name for physmap entry ${i}`);
    const root = `physmap/${phys.toString(16)}`;
    entries.push(
      [`${root}/start_addr`, startAddr.toString(16)],
      [`${root}/size`, size.toString(16)],
      [`${root}/name`, Buffer.from(name.subarray(0, -1)).toString("latin1")],
    );
  }
  return entries;
}

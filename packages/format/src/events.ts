/**
 * What the reader yields. Every event carries the byte offset of its first
 * byte and its exact bytes (`raw`; an unknown optional record's body comes
 * as RecordDataEvents after its header's event); a PAGE_DATA event keeps its page payloads
 * apart in `pages`. Concatenating `raw` then `pages` for every event, in
 * order, gives back the original stream.
 */
import type { ByteOrder, DomainTypeName, LibxcVersion } from "./layout.js";
import type { LibxcFields, LibxcRecordName, LibxlFields, LibxlRecordName, PfnEntry, UnknownFields } from "./records.js";

interface EventBase {
  /** Byte offset in the whole stream of the event's first byte. */
  offset: number;
  /** The event's exact bytes (for PAGE_DATA: header, count word and pfn array only). */
  raw: Uint8Array;
}

export interface XlHeaderEvent extends EventBase {
  kind: "xl-header";
  byteOrder: ByteOrder;
  mandatoryFlags: number;
  optionalFlags: number;
  optionalDataLength: number;
  /** The JSON mandatory flag. */
  json: boolean;
  configText: string | undefined;
  /** The parsed JSON config, when the JSON flag is set and a config is present. */
  config: unknown;
}

export interface LibxlHeaderEvent extends EventBase {
  kind: "libxl-header";
  version: 2;
  byteOrder: ByteOrder;
  legacy: boolean;
}

export interface ImageHeaderEvent extends EventBase {
  kind: "image-header";
  version: LibxcVersion;
  byteOrder: ByteOrder;
}

export interface DomainHeaderEvent extends EventBase {
  kind: "domain-header";
  domainType: number;
  domainTypeName: DomainTypeName;
  pageShift: number;
  xenMajor: number;
  xenMinor: number;
}

interface RecordEventBase extends EventBase {
  type: number;
  /** body_length from the record header (padding excluded). */
  length: number;
}

export type LibxlRecordEvent =
  | {
      [K in LibxlRecordName]: RecordEventBase & { kind: "libxl-record"; name: K; fields: LibxlFields[K] };
    }[LibxlRecordName]
  | (RecordEventBase & { kind: "libxl-record"; name: "UNKNOWN"; fields: UnknownFields });

export type LibxcRecordEvent =
  | {
      [K in Exclude<LibxcRecordName, "PAGE_DATA">]: RecordEventBase & {
        kind: "libxc-record";
        name: K;
        fields: LibxcFields[K];
      };
    }[Exclude<LibxcRecordName, "PAGE_DATA">]
  | (RecordEventBase & { kind: "libxc-record"; name: "UNKNOWN"; fields: UnknownFields });

export interface PageDataEvent extends RecordEventBase {
  kind: "page-data";
  name: "PAGE_DATA";
  pfns: PfnEntry[];
  /** One page-size view per pfn whose type carries data, in stream order. */
  pages: Uint8Array[];
}

/**
 * After the END of a libxc-format HVM stream converted from a legacy one:
 * the legacy qemu record (signature, length, device model state), which
 * Xen's convert-legacy-stream appends there as it was.
 */
export interface DeviceModelEvent extends EventBase {
  kind: "device-model";
  /** The device model's saved state (after the signature and length). */
  data: Uint8Array;
}

/**
 * Bytes of an unknown optional record's body (and padding), in stream order,
 * as they arrive: the record's own event (name "UNKNOWN") carries only its
 * header, and nothing gathers a body nobody reads.
 */
export interface RecordDataEvent extends EventBase {
  kind: "record-data";
  /** The record's type. */
  type: number;
}

export type StreamEvent =
  | XlHeaderEvent
  | RecordDataEvent
  | LibxlHeaderEvent
  | LibxlRecordEvent
  | ImageHeaderEvent
  | DomainHeaderEvent
  | LibxcRecordEvent
  | PageDataEvent
  | DeviceModelEvent;

/** The event's bytes in stream order: `raw`, then any page payloads. */
export function serializeEvent(event: StreamEvent): Uint8Array[] {
  return event.kind === "page-data" ? [event.raw, ...event.pages] : [event.raw];
}

/** How many stream bytes the event stands for. */
export function eventByteLength(event: StreamEvent): number {
  let total = event.raw.length;
  if (event.kind === "page-data") for (const page of event.pages) total += page.length;
  return total;
}

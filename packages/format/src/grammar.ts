/**
 * Which header or record may come next in a stream, shared by the reader
 * and the writer so that neither accepts what the other refuses.
 *
 * Specs: libxc-migration-stream.html 4.12 CHECKPOINT, 5 Layout, 6.1 "v3
 * compat with v2"; libxl-migration-stream.html 5.2 LIBXC_CONTEXT, 5.5
 * CHECKPOINT_END. Xen's restore code (xg_sr_restore.c, libxl_stream_read.c)
 * settles what the specs leave open: PAGE_DATA and X86_PV_P2M_FRAMES need
 * STATIC_DATA_END first in v3, and end the static data implicitly in v2.
 */
import type { FormatErrorReason, Layer } from "./errors.js";
import type { DomainTypeName, LibxcVersion } from "./layout.js";
import { type RecordSpec, isOptionalType } from "./records.js";

export type Position =
  | "xl-header"
  | "libxl-header"
  | "libxl-record"
  | "image-header"
  | "domain-header"
  | "libxc-record"
  | "done";

export type Fail = (reason: FormatErrorReason, expected: string, actual?: string) => never;

/** Records whose arrival ends the static data of a v2 stream (spec 6.1). */
const ENDS_V2_STATIC = new Set(["PAGE_DATA", "X86_PV_P2M_FRAMES"]);

export class StreamGrammar {
  position: Position;
  libxcVersion: LibxcVersion | undefined;
  domainType: DomainTypeName | undefined;
  /** The libxc stream is inside a libxl stream (LIBXC_CONTEXT). */
  private readonly wrapped: boolean;
  private libxcStarted = false;
  private libxcEnded = false;
  private inCheckpoint = false;
  private staticEnded = false;
  private seenStaticDataEnd = false;
  private seenPvInfo = false;

  constructor(outer: Layer) {
    this.position = outer === "xl" ? "xl-header" : outer === "libxl" ? "libxl-header" : "image-header";
    this.wrapped = outer !== "libxc";
  }

  xlHeader(): void {
    this.position = "libxl-header";
  }

  libxlHeader(): void {
    this.position = "libxl-record";
  }

  imageHeader(version: LibxcVersion): void {
    this.libxcVersion = version;
    this.position = "domain-header";
  }

  domainHeader(type: DomainTypeName): void {
    this.domainType = type;
    this.position = "libxc-record";
  }

  /** Checks a libxl record of this type may come now, then moves past it. */
  libxlRecord(type: number, spec: RecordSpec<unknown> | undefined, fail: Fail): void {
    if (spec === undefined) {
      if (isOptionalType(type)) return;
      fail("unknown-record", "a libxl record type this reader knows, or an optional one (bit 31 set)");
    }
    switch (spec.name) {
      case "LIBXC_CONTEXT":
        if (this.libxcStarted) fail("wrong-phase", "one LIBXC_CONTEXT per stream", "a second one");
        this.libxcStarted = true;
        this.position = "image-header";
        return;
      case "CHECKPOINT_END":
        if (!this.inCheckpoint) fail("wrong-phase", "CHECKPOINT_END only after a libxc CHECKPOINT");
        this.inCheckpoint = false;
        this.position = "libxc-record";
        return;
      case "END":
        if (!this.libxcEnded) fail("wrong-phase", "the libxc stream (LIBXC_CONTEXT ... END) before libxl END");
        this.position = "done";
        return;
      default:
        return;
    }
  }

  /** Checks a libxc record of this type may come now, then moves past it. */
  libxcRecord(type: number, spec: RecordSpec<unknown> | undefined, fail: Fail): void {
    if (spec === undefined) {
      if (isOptionalType(type)) return;
      fail("unknown-record", "a libxc record type this reader knows, or an optional one (bit 31 set)");
    }
    const version = this.libxcVersion ?? 3;
    if (!spec.restorable)
      fail("unsupported-record", "a record Xen restores (this one is deprecated or back-channel only)");
    if (!spec.versions.includes(version))
      fail("wrong-phase", `a record allowed in a v${version} stream (only v${spec.versions.join("/v")})`);
    if (spec.domains !== undefined && this.domainType !== undefined && !spec.domains.includes(this.domainType)) {
      fail("wrong-phase", `a record for an ${this.domainType} domain (this one is for ${spec.domains.join("/")})`);
    }
    if (spec.staticData && this.staticEnded) {
      fail(
        "wrong-phase",
        version >= 3 ? "static data before STATIC_DATA_END" : "static data before the first memory record",
      );
    }
    if (
      this.domainType === "x86-pv" &&
      spec.domains?.includes("x86-pv") &&
      spec.name !== "X86_PV_INFO" &&
      !this.seenPvInfo
    ) {
      fail("wrong-phase", "X86_PV_INFO before other x86 PV records");
    }
    if (this.domainType === "x86-pv" && spec.name === "PAGE_DATA" && !this.seenPvInfo) {
      fail("wrong-phase", "X86_PV_INFO before PAGE_DATA");
    }
    if (this.domainType === "x86-pv" && spec.name === "X86_PV_INFO" && this.seenPvInfo) {
      fail("wrong-phase", "one X86_PV_INFO per stream", "a second one");
    }
    if (ENDS_V2_STATIC.has(spec.name)) {
      if (version >= 3 && !this.seenStaticDataEnd) fail("wrong-phase", "STATIC_DATA_END before memory records");
      this.staticEnded = true;
    }
    switch (spec.name) {
      case "X86_PV_INFO":
        this.seenPvInfo = true;
        return;
      case "STATIC_DATA_END":
        if (this.seenStaticDataEnd) fail("wrong-phase", "one STATIC_DATA_END per stream", "a second one");
        this.seenStaticDataEnd = true;
        this.staticEnded = true;
        return;
      case "END":
        this.libxcEnded = true;
        this.position = this.wrapped ? "libxl-record" : "done";
        return;
      case "CHECKPOINT":
        // Inside libxl, a checkpoint hands the stream back to libxl until CHECKPOINT_END.
        if (this.wrapped) {
          this.inCheckpoint = true;
          this.position = "libxl-record";
        }
        return;
      default:
        return;
    }
  }

  /** In words, what the stream needs next; for truncation errors. */
  describeNext(): string {
    switch (this.position) {
      case "xl-header":
        return "the xl save-file header";
      case "libxl-header":
        return "the libxl header";
      case "libxl-record":
        return "a libxl record (the stream ends with libxl END)";
      case "image-header":
        return "the libxc image header";
      case "domain-header":
        return "the libxc domain header";
      case "libxc-record":
        return "a libxc record (the stream ends with libxc END)";
      case "done":
        return "end of stream";
    }
  }
}

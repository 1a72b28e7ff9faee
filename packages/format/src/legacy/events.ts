/**
 * What the legacy reader yields, in stream order. Layout reference:
 * legacy.py (HEADER, BODY PHASE, TAIL PHASE) and convert-legacy-stream in
 * Xen's tools/python; see layout.ts.
 *
 * Every event has the input byte `offset` of its first byte. Large
 * variable-length parts (toolstack data, HVM context, device-model state)
 * come as `blob-start`, any number of `blob-data`, then `blob-end`, so no
 * consumer has to hold them whole.
 */
import type { LegacyXlHeader } from "./xl.js";
import type { LegacyGuest, ToolstackWidth } from "./layout.js";

export type BlobKind = "toolstack" | "hvm-context" | "qemu";

export type LegacyEvent =
  | { kind: "xl-header"; offset: number; header: LegacyXlHeader; optionalData: Uint8Array }
  | {
      kind: "p2m-size";
      offset: number;
      p2mSize: number;
      width: ToolstackWidth;
      guest: LegacyGuest;
      xlWrapped: boolean;
      /** Whether width and guest came from the bytes rather than options. */
      widthDetected: boolean;
      guestDetected: boolean;
    }
  /** PV: the extended-info "vcpu" block, which fixes the guest's width. */
  | { kind: "pv-info"; offset: number; guestWidth: 4 | 8; ptLevels: 3 | 4 }
  /** PV: the p2m frame list, `count` ulongs of `entrySize` bytes each. */
  | { kind: "p2m-frames"; offset: number; count: number; entrySize: 4 | 8; raw: Uint8Array }
  /**
   * A page batch: one entry per pfn (type in bits 31-28, pfn in 27-0), then
   * 4096 bytes per entry whose type carries data, in entry order.
   */
  | { kind: "page-batch"; offset: number; entries: number[]; pages: Uint8Array }
  | { kind: "vcpu-info"; offset: number; maxVcpuId: number; online: number[] }
  | { kind: "hvm-param"; offset: number; chunk: number; param: number; value: bigint }
  | { kind: "tsc-info"; offset: number; mode: number; nsec: bigint; khz: number; incarnation: number }
  /** A chunk with no payload the converter needs (verify mode, last checkpoint). */
  | { kind: "marker"; offset: number; chunk: number; name: string }
  | { kind: "end-of-body"; offset: number }
  | { kind: "unmapped-pfns"; offset: number; count: number }
  | {
      kind: "vcpu";
      offset: number;
      vcpuId: number;
      basic: Uint8Array;
      extended?: Uint8Array;
      xsave?: { mask: bigint; data: Uint8Array };
    }
  | { kind: "shared-info"; offset: number; data: Uint8Array }
  | { kind: "magic-pfns"; offset: number; ioreq: bigint; bufioreq: bigint; store: bigint }
  /** `signature` is set for the device-model record (its 21 raw bytes). */
  | { kind: "blob-start"; offset: number; blob: BlobKind; length: number; signature?: Uint8Array }
  | { kind: "blob-data"; offset: number; blob: BlobKind; bytes: Uint8Array }
  | { kind: "blob-end"; offset: number; blob: BlobKind }
  /** The libxc part (PV shared info or HVM context) is complete. */
  | { kind: "libxc-end"; offset: number }
  | { kind: "end"; offset: number };

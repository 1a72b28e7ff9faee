/** The page size every kernel works in: the unit the hypervisor dirties. */
export const PAGE_SIZE = 4096;

/**
 * Where the pages of a batch are: omitted, the buffer holds N contiguous
 * pages (its length a multiple of 4096); given, each entry is the byte offset
 * of one whole page inside the buffer (pages may then repeat or sit at any
 * alignment). The addon checks every offset.
 */
export type PageOffsets = ArrayLike<number>;

/** The addon takes offsets as a Float64Array (exact for any buffer size). */
export function toOffsets(offsets: PageOffsets | undefined): Float64Array | undefined {
  if (offsets === undefined) return undefined;
  return offsets instanceof Float64Array ? offsets : Float64Array.from(offsets);
}

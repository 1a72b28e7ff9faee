// BLAKE3 of many 4 KiB pages at once.
//
// A 4 KiB page is exactly four 1 KiB BLAKE3 chunks C0..C3 under a two-level
// tree: P0 = parent(C0, C1) and P1 = parent(C2, C3) (flag PARENT), then
// root = parent(P0, P1) (flags PARENT | ROOT).
//
// Hashing one page through the public blake3_hasher API feeds the SIMD kernel
// only four chunks, while the AVX2 and AVX-512 kernels compress 8 or 16 inputs
// side by side. Here the same tree is computed for a group of pages level by
// level: chunk c of every page in the group in one blake3_hash_many call (all
// with chunk counter c), then all first-level parents, then all roots. The
// digests are identical to blake3_hasher's (the tests check this); only the
// order of compressions changes.
//
// blake3_hash_many and IV come from blake3_impl.h, the library's internal
// header, which is safe to use because the library is compiled from the same
// source directory in the same build.

#include "blake3_pages.h"

#include <string.h>

#include "blake3_impl.h"

enum {
  PAGE_LEN = 4096,
  CHUNKS_PER_PAGE = PAGE_LEN / BLAKE3_CHUNK_LEN,
  BLOCKS_PER_CHUNK = BLAKE3_CHUNK_LEN / BLAKE3_BLOCK_LEN,
  // Pages per group: the widest SIMD degree, so every kernel call is full.
  GROUP = 16,
};

void xf_blake3_pages(const uint8_t *const *pages, size_t count, uint8_t *out) {
  const uint8_t *inputs[2 * GROUP];
  // chunk_cvs[c]: chaining value of chunk c of each page in the group.
  uint8_t chunk_cvs[CHUNKS_PER_PAGE][GROUP * BLAKE3_OUT_LEN];
  // children[p]: page p's four chunk CVs in order, i.e. its two parent blocks.
  uint8_t children[GROUP][CHUNKS_PER_PAGE * BLAKE3_OUT_LEN];
  // parents[p]: page p's two first-level parent CVs, i.e. its root block.
  uint8_t parents[GROUP][2 * BLAKE3_OUT_LEN];

  for (size_t base = 0; base < count; base += GROUP) {
    const size_t n = count - base < GROUP ? count - base : GROUP;

    for (size_t c = 0; c < CHUNKS_PER_PAGE; c++) {
      for (size_t p = 0; p < n; p++) inputs[p] = pages[base + p] + c * BLAKE3_CHUNK_LEN;
      blake3_hash_many(inputs, n, BLOCKS_PER_CHUNK, IV, c, false, 0, CHUNK_START, CHUNK_END,
                       chunk_cvs[c]);
    }
    for (size_t p = 0; p < n; p++) {
      for (size_t c = 0; c < CHUNKS_PER_PAGE; c++) {
        memcpy(children[p] + c * BLAKE3_OUT_LEN, chunk_cvs[c] + p * BLAKE3_OUT_LEN,
               BLAKE3_OUT_LEN);
      }
      inputs[2 * p] = children[p];
      inputs[2 * p + 1] = children[p] + BLAKE3_BLOCK_LEN;
    }
    // Outputs land in input order, so parents[p] is P0 || P1 of page p.
    blake3_hash_many(inputs, 2 * n, 1, IV, 0, false, PARENT, 0, 0, &parents[0][0]);

    for (size_t p = 0; p < n; p++) inputs[p] = parents[p];
    // For a 32-byte output the root node's output is its chaining value.
    blake3_hash_many(inputs, n, 1, IV, 0, false, PARENT | ROOT, 0, 0,
                     out + base * BLAKE3_OUT_LEN);
  }
}

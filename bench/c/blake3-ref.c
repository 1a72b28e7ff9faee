/*
 * Reference for bench/pages.ts: BLAKE3's official C library hashing 4 KiB
 * pages one by one through its public API (blake3_hasher), the way a C
 * program would without batching. The bench compiles this at run time
 * against Debian's librust-blake3-dev sources.
 *
 * usage: blake3-ref PAGE_FILE [ROUNDS]
 * Reads the whole file first, then times only the hashing (best of ROUNDS)
 * and prints one JSON line: pages, bytes, seconds, GB/s, and the BLAKE3 of
 * all page digests concatenated, so the bench can check both sides computed
 * the same digests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "blake3.h"

#define PAGE_SIZE 4096

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PAGE_FILE [ROUNDS]\n", argv[0]);
    return 2;
  }
  const int rounds = argc > 2 ? atoi(argv[2]) : 3;
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
    perror(argv[1]);
    return 1;
  }
  const long size = ftell(f);
  rewind(f);
  if (size <= 0 || size % PAGE_SIZE != 0) {
    fprintf(stderr, "%s: size %ld is not a positive multiple of %d\n", argv[1], size, PAGE_SIZE);
    return 1;
  }
  const size_t pages = (size_t)size / PAGE_SIZE;
  unsigned char *data = malloc((size_t)size);
  unsigned char *digests = malloc(pages * BLAKE3_OUT_LEN);
  if (data == NULL || digests == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "%s: cannot read\n", argv[1]);
    return 1;
  }
  fclose(f);

  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    const double start = now();
    for (size_t i = 0; i < pages; i++) {
      blake3_hasher hasher;
      blake3_hasher_init(&hasher);
      blake3_hasher_update(&hasher, data + i * PAGE_SIZE, PAGE_SIZE);
      blake3_hasher_finalize(&hasher, digests + i * BLAKE3_OUT_LEN, BLAKE3_OUT_LEN);
    }
    const double elapsed = now() - start;
    if (elapsed < best) best = elapsed;
  }

  unsigned char check[BLAKE3_OUT_LEN];
  blake3_hasher hasher;
  blake3_hasher_init(&hasher);
  blake3_hasher_update(&hasher, digests, pages * BLAKE3_OUT_LEN);
  blake3_hasher_finalize(&hasher, check, BLAKE3_OUT_LEN);
  printf("{\"pages\":%zu,\"bytes\":%ld,\"seconds\":%.6f,\"gbps\":%.4f,\"digestOfDigests\":\"", pages,
         size, best, (double)size / best / 1e9);
  for (int i = 0; i < BLAKE3_OUT_LEN; i++) printf("%02x", check[i]);
  printf("\"}\n");
  free(data);
  free(digests);
  return 0;
}

// BLAKE3 of many 4 KiB pages at once (see blake3_pages.c).
#ifndef XENFLEET_BLAKE3_PAGES_H
#define XENFLEET_BLAKE3_PAGES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Writes the 32-byte BLAKE3 digest of each 4096-byte page pages[i] to out + 32 * i.
void xf_blake3_pages(const uint8_t *const *pages, size_t count, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif

// BLAKE3's official x86-64 sse2 kernel (Unix assembly) from librust-blake3-dev,
// compiled from the directory binding.gyp found; blake3_dispatch.c selects
// the widest kernel the CPU supports at run time.
#include <blake3_sse2_x86-64_unix.S>

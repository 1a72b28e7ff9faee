// Compiles BLAKE3's official C source blake3_dispatch.c from the librust-blake3-dev
// directory found by binding.gyp (blake3_dir, on the include path); it is a
// build input, not part of this repository.
#include <blake3_dispatch.c>

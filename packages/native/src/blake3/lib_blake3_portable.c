// Compiles BLAKE3's official C source blake3_portable.c from the librust-blake3-dev
// directory found by binding.gyp (blake3_dir, on the include path); it is a
// build input, not part of this repository.
#include <blake3_portable.c>

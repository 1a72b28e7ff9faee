{
  # Build inputs found on the host, so a Debian version bump does not break the build:
  # - blake3_dir: BLAKE3's official C sources shipped by librust-blake3-dev
  #   (/usr/share/cargo/registry/blake3-<version>/c), compiled in as a build input
  #   through the one-line wrappers in src/blake3/ (gyp's make generator cannot
  #   compile sources outside the package directory).
  # - have_libxl: 1 when libxen-dev's libxl.h is present; otherwise the libxl
  #   binding is replaced by stubs that report "built without libxl".
  "variables": {
    "blake3_dir": "<!(node -p \"const fs=require('fs'),r='/usr/share/cargo/registry';const d=(fs.existsSync(r)?fs.readdirSync(r):[]).filter(n=>/^blake3-[0-9]/.test(n)).sort((a,b)=>a.localeCompare(b,'en',{numeric:true})).pop();if(!d)throw new Error('BLAKE3 C sources not found under '+r+': apt-get install librust-blake3-dev');r+'/'+d+'/c'\")",
    "have_libxl": "<!(node -p \"+require('fs').existsSync('/usr/include/libxl.h')\")"
  },
  "targets": [
    {
      "target_name": "xenfleet_native",
      "sources": [
        "src/addon.cc",
        "src/hash.cc",
        "src/zero.cc",
        "src/classify.cc",
        "src/delta.cc",
        "src/blake3_pages.c",
        "src/blake3/lib_blake3.c",
        "src/blake3/lib_blake3_dispatch.c",
        "src/blake3/lib_blake3_portable.c"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(blake3_dir)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-O3"],
      "cflags_c": ["-std=c11"],
      "cflags_cc": ["-std=c++17"],
      "conditions": [
        ["target_arch=='x64'", {
          # The hand-written x86-64 assembly kernels; blake3_dispatch.c picks one at run time.
          "sources": ["src/blake3/lib_sse2.S", "src/blake3/lib_sse41.S", "src/blake3/lib_avx2.S", "src/blake3/lib_avx512.S"]
        }, {
          "defines": ["BLAKE3_NO_SSE2", "BLAKE3_NO_SSE41", "BLAKE3_NO_AVX2", "BLAKE3_NO_AVX512", "BLAKE3_USE_NEON=0"]
        }],
        ["have_libxl==1", {
          "sources": ["src/libxl.cc"],
          "defines": ["XENFLEET_HAVE_LIBXL=1"],
          "libraries": ["-lxenlight", "-lxentoollog"]
        }, {
          "sources": ["src/libxl_stub.cc"]
        }]
      ]
    }
  ]
}

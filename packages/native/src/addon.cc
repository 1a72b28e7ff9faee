// Entry point of the xenfleet_native addon: page kernels and the libxl binding.
#include <napi.h>

#include "kernels.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  xf::InitHash(env, exports);
  xf::InitZero(env, exports);
  xf::InitClassify(env, exports);
  xf::InitDelta(env, exports);
  xf::InitLibxl(env, exports);
  return exports;
}

NODE_API_MODULE(xenfleet_native, Init)

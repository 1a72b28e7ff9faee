// Zero-page detection: zero pages are stored as nothing at all, so every page
// of every save goes through this test before it is hashed.

#include <cstring>
#include <vector>

#include "args.h"
#include "kernels.h"

namespace xf {
namespace {

// True when all 4096 bytes are zero. Works a 64-byte cache line at a time:
// eight 64-bit words ORed together (the compiler turns this into vector ORs),
// returning at the first line with a set bit, since non-zero pages usually
// show it early and zero pages must be read to the end anyway. memcpy keeps
// the loads legal for pages at any alignment.
bool PageIsZero(const uint8_t* page) {
  for (size_t i = 0; i < kPageSize; i += 64) {
    uint64_t w[8];
    std::memcpy(w, page + i, sizeof w);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) return false;
  }
  return true;
}

// zeroPages(pages, offsets?) -> Uint8Array with 1 for each all-zero page, else 0.
Napi::Value ZeroPages(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buffer;
  std::vector<const uint8_t*> pages;
  if (!GetPages(info, 0, 1, &buffer, &pages)) return Napi::Value();
  Napi::Uint8Array flags = Napi::Uint8Array::New(info.Env(), pages.size());
  uint8_t* out = flags.Data();
  for (size_t i = 0; i < pages.size(); i++) out[i] = PageIsZero(pages[i]) ? 1 : 0;
  return flags;
}

}  // namespace

void InitZero(Napi::Env env, Napi::Object exports) {
  exports.Set("zeroPages", Napi::Function::New(env, ZeroPages, "zeroPages"));
}

}  // namespace xf

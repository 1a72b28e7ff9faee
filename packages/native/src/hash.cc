// Page hashing: BLAKE3 digests of 4 KiB pages, one batch per call.
//
// One call per batch (not per page) keeps the JS-to-native crossing off the
// per-page cost, and the batch is what lets blake3_pages.c fill the SIMD lanes.
// The async variant runs the same kernel on a libuv worker thread so a large
// batch never stalls the event loop.

#include <memory>
#include <vector>

#include "args.h"
#include "blake3.h"
#include "blake3_pages.h"
#include "kernels.h"

namespace xf {
namespace {

constexpr size_t kDigestLen = BLAKE3_OUT_LEN;

// blake3(data): the digest of any byte string, through the library's public API.
// It is the reference the batch kernel must agree with.
Napi::Value Blake3(const Napi::CallbackInfo& info) {
  Napi::Uint8Array data;
  if (!GetBytes(info, 0, "data", &data)) return Napi::Value();
  blake3_hasher hasher;
  blake3_hasher_init(&hasher);
  blake3_hasher_update(&hasher, data.Data(), data.ByteLength());
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), kDigestLen);
  blake3_hasher_finalize(&hasher, out.Data(), kDigestLen);
  return out;
}

// hashPages(pages, offsets?) -> Buffer of N 32-byte digests.
Napi::Value HashPages(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buffer;
  std::vector<const uint8_t*> pages;
  if (!GetPages(info, 0, 1, &buffer, &pages)) return Napi::Value();
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), pages.size() * kDigestLen);
  xf_blake3_pages(pages.data(), pages.size(), out.Data());
  return out;
}

// Hashes on a libuv worker thread. The input and output buffers are held by
// references so the garbage collector cannot free them while the thread reads
// and writes them; the caller must not modify the input until the promise settles.
class HashPagesWorker : public Napi::AsyncWorker {
 public:
  HashPagesWorker(Napi::Env env, Napi::Uint8Array input, std::vector<const uint8_t*> pages)
      : Napi::AsyncWorker(env, "xenfleet.hashPagesAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        input_(Napi::Persistent(input)),
        pages_(std::move(pages)) {
    Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, pages_.size() * kDigestLen);
    outData_ = out.Data();
    output_ = Napi::Persistent(out);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { xf_blake3_pages(pages_.data(), pages_.size(), outData_); }
  void OnOK() override { deferred_.Resolve(output_.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint8Array> input_;
  Napi::Reference<Napi::Buffer<uint8_t>> output_;
  std::vector<const uint8_t*> pages_;
  uint8_t* outData_ = nullptr;
};

// hashPagesAsync(pages, offsets?) -> Promise<Buffer>. Arguments are checked
// synchronously, so a bad call throws at once rather than rejecting later.
Napi::Value HashPagesAsync(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buffer;
  std::vector<const uint8_t*> pages;
  if (!GetPages(info, 0, 1, &buffer, &pages)) return Napi::Value();
  auto* worker = new HashPagesWorker(info.Env(), buffer, std::move(pages));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitHash(Napi::Env env, Napi::Object exports) {
  exports.Set("blake3", Napi::Function::New(env, Blake3, "blake3"));
  exports.Set("hashPages", Napi::Function::New(env, HashPages, "hashPages"));
  exports.Set("hashPagesAsync", Napi::Function::New(env, HashPagesAsync, "hashPagesAsync"));
  exports.Set("digestLength", Napi::Number::New(env, kDigestLen));
  exports.Set("blake3Version", Napi::String::New(env, blake3_version()));
}

}  // namespace xf

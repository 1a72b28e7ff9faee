// Hash-and-classify: the per-page work of an incremental save, in one call per batch.
//
// An import must hash every page (nothing else says whether it changed), and
// then tell for each page whether it is a zero page, the same page the
// previous image had at this position in the stream (the usual case on a
// nightly save: most memory did not change), or something else, which needs a
// dedup lookup. Doing the two comparisons here, on the worker thread that just
// produced the digest, leaves JavaScript one byte per page to branch on
// instead of two 32-byte comparisons per page.

#include <cstring>
#include <vector>

#include "args.h"
#include "blake3_pages.h"
#include "kernels.h"

namespace xf {
namespace {

constexpr size_t kDigestLen = 32;

// Flag values, shared with lib/classify.ts.
constexpr uint8_t kOther = 0;
constexpr uint8_t kZero = 1;
constexpr uint8_t kSame = 2;

// The digest of an all-zero page, computed once (a function-local static is
// initialised exactly once, even with several worker threads asking).
struct ZeroDigest {
  uint8_t bytes[kDigestLen];
  ZeroDigest() {
    static const uint8_t zero[kPageSize] = {0};
    const uint8_t* page = zero;
    xf_blake3_pages(&page, 1, bytes);
  }
};

const uint8_t* ZeroPageDigest() {
  static const ZeroDigest digest;
  return digest.bytes;
}

void Classify(const std::vector<const uint8_t*>& pages, const uint8_t* expected, size_t expectedCount,
              const uint8_t* zeroDigest, uint8_t* digests, uint8_t* flags) {
  xf_blake3_pages(pages.data(), pages.size(), digests);
  for (size_t i = 0; i < pages.size(); i++) {
    const uint8_t* d = digests + i * kDigestLen;
    if (std::memcmp(d, zeroDigest, kDigestLen) == 0) flags[i] = kZero;
    else if (i < expectedCount && std::memcmp(d, expected + i * kDigestLen, kDigestLen) == 0) flags[i] = kSame;
    else flags[i] = kOther;
  }
}

class ClassifyWorker : public Napi::AsyncWorker {
 public:
  ClassifyWorker(Napi::Env env, Napi::Uint8Array input, std::vector<const uint8_t*> pages,
                 Napi::Uint8Array expected, Napi::Uint8Array digests, Napi::Uint8Array flags)
      : Napi::AsyncWorker(env, "xenfleet.classifyPagesAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        input_(Napi::Persistent(input)),
        expected_(Napi::Persistent(expected)),
        digests_(Napi::Persistent(digests)),
        flags_(Napi::Persistent(flags)),
        pages_(std::move(pages)),
        expectedData_(expected.Data()),
        expectedCount_(expected.ByteLength() / kDigestLen),
        digestsData_(digests.Data()),
        flagsData_(flags.Data()),
        zeroDigest_(ZeroPageDigest()) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { Classify(pages_, expectedData_, expectedCount_, zeroDigest_, digestsData_, flagsData_); }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }

 private:
  Napi::Promise::Deferred deferred_;
  // References keep every buffer alive while the worker thread uses it.
  Napi::Reference<Napi::Uint8Array> input_;
  Napi::Reference<Napi::Uint8Array> expected_;
  Napi::Reference<Napi::Uint8Array> digests_;
  Napi::Reference<Napi::Uint8Array> flags_;
  std::vector<const uint8_t*> pages_;
  const uint8_t* expectedData_;
  size_t expectedCount_;
  uint8_t* digestsData_;
  uint8_t* flagsData_;
  const uint8_t* zeroDigest_;
};

// classifyPagesAsync(pages, offsets, expected, digests, flags) -> Promise<void>.
// Writes page i's digest to digests[32 i, 32 i + 32) and its flag to flags[i]:
// 1 zero page, 2 equal to expected digest i, 0 otherwise. `expected` may hold
// fewer digests than there are pages (those pages have no expectation).
// Arguments are checked synchronously, so a bad call throws at once.
Napi::Value ClassifyPagesAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array buffer, expected, digests, flags;
  std::vector<const uint8_t*> pages;
  if (!GetPages(info, 0, 1, &buffer, &pages)) return Napi::Value();
  if (!GetBytes(info, 2, "expected", &expected) || !GetBytes(info, 3, "digests", &digests) ||
      !GetBytes(info, 4, "flags", &flags)) {
    return Napi::Value();
  }
  if (expected.ByteLength() % kDigestLen != 0) {
    ThrowArgument(env, "expected length " + std::to_string(expected.ByteLength()) + " is not a multiple of 32");
    return Napi::Value();
  }
  if (digests.ByteLength() < pages.size() * kDigestLen || flags.ByteLength() < pages.size()) {
    ThrowArgument(env, "digests and flags must hold " + std::to_string(pages.size()) + " pages' results");
    return Napi::Value();
  }
  auto* worker = new ClassifyWorker(env, buffer, std::move(pages), expected, digests, flags);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitClassify(Napi::Env env, Napi::Object exports) {
  exports.Set("classifyPagesAsync", Napi::Function::New(env, ClassifyPagesAsync, "classifyPagesAsync"));
}

}  // namespace xf

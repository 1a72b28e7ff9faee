// The libxl binding when the addon was built without libxen-dev (no libxl.h):
// the same exports, each reporting that Xen cannot be reached from this build.

#include "args.h"
#include "kernels.h"
#include "libxl_common.h"

namespace xf {
namespace {

const char* const kReason =
    "no Xen hypervisor available: xenfleet_native was built without libxl "
    "(libxen-dev was not installed at build time)";

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("available", false);
  result.Set("reason", kReason);
  return result;
}

// Every libxl entry point: a rejected promise, like a real call on a host without Xen.
Napi::Value Unavailable(const Napi::CallbackInfo& info) {
  auto deferred = Napi::Promise::Deferred::New(info.Env());
  deferred.Reject(CodedError(info.Env(), kErrXenUnavailable, kReason).Value());
  return deferred.Promise();
}

}  // namespace

void InitLibxl(Napi::Env env, Napi::Object exports) {
  exports.Set("libxlBuilt", false);
  exports.Set("xenProbe", Napi::Function::New(env, Probe, "xenProbe"));
  for (const char* name :
       {"libxlOpen", "libxlClose", "libxlListDomains", "libxlDomainInfo", "libxlDomainConfig",
        "libxlPhysInfo", "libxlPause", "libxlUnpause", "libxlResume", "libxlDestroy", "libxlSave",
        "libxlRestore"}) {
    exports.Set(name, Napi::Function::New(env, Unavailable, name));
  }
}

}  // namespace xf

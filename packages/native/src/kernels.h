// Each concept registers its own exports; addon.cc only calls these.
#pragma once

#include <napi.h>

namespace xf {

void InitHash(Napi::Env env, Napi::Object exports);
void InitZero(Napi::Env env, Napi::Object exports);
void InitClassify(Napi::Env env, Napi::Object exports);
void InitDelta(Napi::Env env, Napi::Object exports);
void InitLibxl(Napi::Env env, Napi::Object exports);

}  // namespace xf

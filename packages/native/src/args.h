// Argument checking shared by the page kernels. Every entry point validates its
// arguments here before touching memory, and reports problems as JS errors
// carrying a `code` that lib/errors.ts turns into a typed XenfleetError.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace xf {

// The unit the hypervisor dirties, and so the unit of hashing, zero detection and deltas.
constexpr size_t kPageSize = 4096;

// Error codes shared with lib/errors.ts.
constexpr const char* kErrArgument = "XF_NATIVE_BAD_ARGUMENT";
constexpr const char* kErrDelta = "XF_NATIVE_BAD_DELTA";

// Builds a JS Error with a machine-readable `code` property.
inline Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

// Shortest faithful text of a JS number, for error messages.
inline std::string FormatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

inline void ThrowArgument(Napi::Env env, const std::string& message) {
  CodedError(env, kErrArgument, message).ThrowAsJavaScriptException();
}

// Reads argument `index` as a Uint8Array (a Buffer is one). Throws and returns
// false when it is anything else.
inline bool GetBytes(const Napi::CallbackInfo& info, size_t index, const char* name,
                     Napi::Uint8Array* out) {
  Napi::Value value = info[index];
  if (!value.IsTypedArray() ||
      value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowArgument(info.Env(), std::string(name) + " must be a Buffer or Uint8Array");
    return false;
  }
  *out = value.As<Napi::Uint8Array>();
  return true;
}

// Resolves a batch of pages: either `buffer` holds N contiguous pages (its length
// a multiple of 4096), or `offsets` (a Float64Array, argument `offsetsIndex`)
// lists the byte offset of each page inside `buffer`. Throws and returns false on
// any bad length or offset, so the kernels only ever see in-bounds pages.
inline bool GetPages(const Napi::CallbackInfo& info, size_t bufferIndex, size_t offsetsIndex,
                     Napi::Uint8Array* buffer, std::vector<const uint8_t*>* pages) {
  Napi::Env env = info.Env();
  if (!GetBytes(info, bufferIndex, "pages", buffer)) return false;
  const uint8_t* base = buffer->Data();
  const size_t length = buffer->ByteLength();

  Napi::Value offsets = info[offsetsIndex];
  if (offsets.IsUndefined() || offsets.IsNull()) {
    if (length % kPageSize != 0) {
      ThrowArgument(env, "pages length " + std::to_string(length) +
                             " is not a multiple of the 4096-byte page size");
      return false;
    }
    pages->resize(length / kPageSize);
    for (size_t i = 0; i < pages->size(); i++) (*pages)[i] = base + i * kPageSize;
    return true;
  }

  if (!offsets.IsTypedArray() ||
      offsets.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    ThrowArgument(env, "offsets must be a Float64Array of byte offsets");
    return false;
  }
  Napi::Float64Array list = offsets.As<Napi::Float64Array>();
  pages->resize(list.ElementLength());
  for (size_t i = 0; i < list.ElementLength(); i++) {
    const double offset = list[i];
    // Checked as a double so NaN, negatives, fractions and huge values are
    // refused before any integer conversion.
    if (length < kPageSize || !(offset >= 0) ||
        offset > static_cast<double>(length - kPageSize) || offset != std::floor(offset)) {
      ThrowArgument(env, "offsets[" + std::to_string(i) + "] = " + FormatNumber(offset) +
                             " does not start a whole 4096-byte page inside the " +
                             std::to_string(length) + "-byte buffer");
      return false;
    }
    (*pages)[i] = base + static_cast<size_t>(offset);
  }
  return true;
}

}  // namespace xf

// XOR+RLE page delta: a page encoded against its previous version, as Remus
// compressed checkpoints. Between two nightly saves most of a dirtied page is
// often unchanged, so new XOR old is mostly zero bytes, which run-length
// coding removes. The format is defined in native/README.md ("Page delta").
//
//   byte 0         format version (1)
//   then ops, each a 16-bit little-endian header:
//     bit 15       0 = skip (bytes unchanged), 1 = literal (XOR bytes follow)
//     bits 12-14   reserved, must be 0
//     bits 0-11    run length - 1 (runs are 1..4096 bytes)
//   a literal header is followed by its run length of XOR bytes; the runs
//   cover exactly 4096 bytes and nothing follows the last one.
//
// Size bound: the encoder only skips zero runs of at least kMinSkip (4) bytes,
// so each skip header (2 bytes) stands for at least 4 page bytes, and there is
// at most one more literal than skips. Hence size <= 1 + 2 + 4096 = kMaxDelta
// (the size of a page sent as a single literal). The encoder falls back to that
// single literal if it would ever exceed the bound, so it cannot overflow.

#include <cstring>
#include <string>

#include "args.h"
#include "kernels.h"

namespace xf {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderLen = 1;
constexpr size_t kOpLen = 2;
constexpr uint16_t kLiteralBit = 0x8000;
constexpr uint16_t kReservedBits = 0x7000;
constexpr uint16_t kLengthMask = 0x0fff;
constexpr size_t kMinSkip = 4;
constexpr size_t kMaxDelta = kHeaderLen + kOpLen + kPageSize;

// Number of zero bytes in x starting at pos, skipping whole zero words fast.
size_t ZeroRun(const uint8_t* x, size_t pos) {
  size_t end = pos;
  while (end < kPageSize && end % 8 != 0 && x[end] == 0) end++;
  if (end % 8 == 0) {
    while (end < kPageSize) {
      uint64_t word;
      std::memcpy(&word, x + end, sizeof word);
      if (word != 0) break;
      end += 8;
    }
  }
  while (end < kPageSize && x[end] == 0) end++;
  return end - pos;
}

// True when some byte of the word is zero (the classic bit trick: a borrow
// into the top bit of a byte happens only from a zero byte).
inline bool HasZeroByte(uint64_t word) {
  return ((word - 0x0101010101010101ULL) & ~word & 0x8080808080808080ULL) != 0;
}

size_t PutOp(uint8_t* out, size_t at, bool literal, size_t length) {
  const uint16_t header = static_cast<uint16_t>((literal ? kLiteralBit : 0) | (length - 1));
  out[at] = static_cast<uint8_t>(header & 0xff);
  out[at + 1] = static_cast<uint8_t>(header >> 8);
  return at + kOpLen;
}

// The whole XOR page as one literal: the worst case, and the fallback.
size_t EncodeSingleLiteral(const uint8_t* x, uint8_t* out) {
  out[0] = kVersion;
  const size_t at = PutOp(out, kHeaderLen, true, kPageSize);
  std::memcpy(out + at, x, kPageSize);
  return at + kPageSize;
}

// Encodes cur against prev into out (kMaxDelta bytes); returns the length used.
size_t EncodeDelta(const uint8_t* cur, const uint8_t* prev, uint8_t* out) {
  uint8_t x[kPageSize];
  for (size_t i = 0; i < kPageSize; i++) x[i] = cur[i] ^ prev[i];

  out[0] = kVersion;
  size_t at = kHeaderLen;
  size_t pos = 0;
  while (pos < kPageSize) {
    const size_t zeros = ZeroRun(x, pos);
    if (zeros >= kMinSkip) {
      if (at + kOpLen > kMaxDelta) return EncodeSingleLiteral(x, out);
      at = PutOp(out, at, false, zeros);
      pos += zeros;
      continue;
    }
    // A literal runs until the next zero run long enough to be worth a skip;
    // shorter zero runs are cheaper inside the literal.
    size_t end = pos;
    while (end < kPageSize) {
      if (end % 8 == 0) {
        // Changed data usually has no zero byte in a whole word: step over it.
        uint64_t word;
        std::memcpy(&word, x + end, sizeof word);
        if (!HasZeroByte(word)) {
          end += 8;
          continue;
        }
      }
      if (x[end] != 0) {
        end++;
        continue;
      }
      const size_t gap = ZeroRun(x, end);
      if (gap >= kMinSkip) break;
      end += gap;
    }
    const size_t length = end - pos;
    if (at + kOpLen + length > kMaxDelta) return EncodeSingleLiteral(x, out);
    at = PutOp(out, at, true, length);
    std::memcpy(out + at, x + pos, length);
    at += length;
    pos = end;
  }
  return at;
}

// Decodes delta against prev into out (one page). Returns an empty string on
// success, else what is wrong and sets *errorOffset to the delta byte at fault.
// Every length is checked against both the page and the delta before use.
std::string DecodeDelta(const uint8_t* __restrict delta, size_t length,
                        const uint8_t* __restrict prev, uint8_t* __restrict out,
                        size_t* errorOffset) {
  *errorOffset = 0;
  if (length < kHeaderLen) return "empty delta (no version byte)";
  if (length > kMaxDelta) {
    // No conforming encoder writes more; refusing early bounds the work.
    *errorOffset = kMaxDelta;
    return std::to_string(length) + " bytes is more than the maximum " +
           std::to_string(kMaxDelta);
  }
  if (delta[0] != kVersion) {
    return "unsupported delta version " + std::to_string(delta[0]) + " (this build reads " +
           std::to_string(kVersion) + ")";
  }
  std::memcpy(out, prev, kPageSize);
  size_t at = kHeaderLen;
  size_t pos = 0;
  while (pos < kPageSize) {
    *errorOffset = at;
    if (length - at < kOpLen) {
      return "delta ends inside the page (at page byte " + std::to_string(pos) +
             ", expected an op header)";
    }
    const uint16_t header = static_cast<uint16_t>(delta[at] | (delta[at + 1] << 8));
    if (header & kReservedBits) return "op header has reserved bits set";
    const size_t run = static_cast<size_t>(header & kLengthMask) + 1;
    if (run > kPageSize - pos) {
      return "run of " + std::to_string(run) + " bytes at page byte " + std::to_string(pos) +
             " goes past the end of the 4096-byte page";
    }
    at += kOpLen;
    if (header & kLiteralBit) {
      if (length - at < run) {
        *errorOffset = at;
        return "literal of " + std::to_string(run) + " bytes is truncated (" +
               std::to_string(length - at) + " bytes left)";
      }
      for (size_t i = 0; i < run; i++) out[pos + i] ^= delta[at + i];
      at += run;
    }
    pos += run;
  }
  if (at != length) {
    *errorOffset = at;
    return std::to_string(length - at) + " unexpected bytes after the last run";
  }
  return std::string();
}

bool GetPage(const Napi::CallbackInfo& info, size_t index, const char* name,
             Napi::Uint8Array* out) {
  if (!GetBytes(info, index, name, out)) return false;
  if (out->ByteLength() != kPageSize) {
    ThrowArgument(info.Env(), std::string(name) + " must be exactly 4096 bytes, got " +
                                  std::to_string(out->ByteLength()));
    return false;
  }
  return true;
}

// deltaEncode(page, previous) -> Buffer (at most maxDeltaLength bytes).
Napi::Value Encode(const Napi::CallbackInfo& info) {
  Napi::Uint8Array cur, prev;
  if (!GetPage(info, 0, "page", &cur) || !GetPage(info, 1, "previous", &prev)) {
    return Napi::Value();
  }
  uint8_t scratch[kMaxDelta];
  const size_t length = EncodeDelta(cur.Data(), prev.Data(), scratch);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), scratch, length);
}

// deltaDecode(delta, previous, target?) -> the decoded page: `target` (a
// 4096-byte Uint8Array the caller owns, e.g. a slot of a larger output
// buffer) when given, else a new Buffer. Allocating a 4 KiB Buffer costs
// about as much as decoding, so hot paths pass a target.
Napi::Value Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array delta, prev, target;
  if (!GetBytes(info, 0, "delta", &delta) || !GetPage(info, 1, "previous", &prev)) {
    return Napi::Value();
  }
  const bool hasTarget = !info[2].IsUndefined();
  if (hasTarget && !GetPage(info, 2, "target", &target)) return Napi::Value();
  // Decoding into a scratch page first leaves `target` untouched on error,
  // and is safe when `target` overlaps `previous` or the delta.
  uint8_t page[kPageSize];
  size_t offset = 0;
  const std::string problem = DecodeDelta(delta.Data(), delta.ByteLength(), prev.Data(), page,
                                          &offset);
  if (!problem.empty()) {
    Napi::Error error = CodedError(env, kErrDelta,
                                   "malformed page delta at byte " + std::to_string(offset) +
                                       ": " + problem);
    error.Set("offset", Napi::Number::New(env, static_cast<double>(offset)));
    error.ThrowAsJavaScriptException();
    return Napi::Value();
  }
  if (!hasTarget) return Napi::Buffer<uint8_t>::Copy(env, page, kPageSize);
  std::memcpy(target.Data(), page, kPageSize);
  return target;
}

}  // namespace

void InitDelta(Napi::Env env, Napi::Object exports) {
  exports.Set("deltaEncode", Napi::Function::New(env, Encode, "deltaEncode"));
  exports.Set("deltaDecode", Napi::Function::New(env, Decode, "deltaDecode"));
  exports.Set("deltaVersion", Napi::Number::New(env, kVersion));
  exports.Set("maxDeltaLength", Napi::Number::New(env, static_cast<double>(kMaxDelta)));
}

}  // namespace xf

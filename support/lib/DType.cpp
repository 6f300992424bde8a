//===- DType.cpp - Element types and scalar conversions -------------------===//

#include "moe-support/DType.h"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

// Tensors in files and buffers are little-endian; reading them with memcpy
// is right only on a little-endian host (x86-64, AArch64).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "moe-opt assumes a little-endian host");

namespace moe::support {

namespace {
struct DTypeInfo {
  DType dtype;
  const char *safeTensors;
  const char *manifest; // null: not a manifest type
  size_t size;
};

constexpr DTypeInfo kTypes[] = {
    {DType::F64, "F64", nullptr, 8},
    {DType::F32, "F32", "f32", 4},
    {DType::F16, "F16", "f16", 2},
    {DType::BF16, "BF16", "bf16", 2},
    {DType::F8E4M3, "F8_E4M3", "f8e4m3", 1},
    {DType::F8E5M2, "F8_E5M2", nullptr, 1},
    {DType::F8E8M0, "F8_E8M0", "f8e8m0", 1},
    {DType::I64, "I64", "i64", 8},
    {DType::I32, "I32", "i32", 4},
    {DType::I16, "I16", nullptr, 2},
    {DType::I8, "I8", "i8", 1},
    {DType::U64, "U64", nullptr, 8},
    {DType::U32, "U32", nullptr, 4},
    {DType::U16, "U16", nullptr, 2},
    {DType::U8, "U8", nullptr, 1},
    {DType::Bool, "BOOL", nullptr, 1},
};

const DTypeInfo &info(DType dtype) {
  for (const DTypeInfo &entry : kTypes)
    if (entry.dtype == dtype)
      return entry;
  return kTypes[0]; // unreachable: every enumerator is listed
}

uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float bitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/// Drops the low `shift` bits of `value`, rounding to nearest, ties to even.
uint32_t roundShiftRightEven(uint32_t value, unsigned shift) {
  uint32_t quotient = value >> shift;
  uint32_t remainder = value & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (remainder > half || (remainder == half && (quotient & 1)))
    ++quotient;
  return quotient;
}
} // namespace

size_t elementSize(DType dtype) { return info(dtype).size; }

const char *safeTensorsName(DType dtype) { return info(dtype).safeTensors; }

std::optional<DType> parseSafeTensorsName(std::string_view name) {
  for (const DTypeInfo &entry : kTypes)
    if (name == entry.safeTensors)
      return entry.dtype;
  return std::nullopt;
}

const char *manifestName(DType dtype) { return info(dtype).manifest; }

std::optional<DType> parseManifestName(std::string_view name) {
  for (const DTypeInfo &entry : kTypes)
    if (entry.manifest && name == entry.manifest)
      return entry.dtype;
  return std::nullopt;
}

bool isComputeFloat(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

bool isWeightStorage(DType dtype) {
  return isComputeFloat(dtype) || dtype == DType::F8E4M3 ||
         dtype == DType::F8E8M0 || dtype == DType::I8;
}

bool canPack(DType srcType, DType dstType) {
  if (isComputeFloat(srcType) && isComputeFloat(dstType))
    return true;
  if (!isWeightStorage(dstType))
    return false;
  // Checkpoints store e8m0 scales and e2m1 pairs as U8.
  return srcType == dstType ||
         (srcType == DType::U8 &&
          (dstType == DType::F8E8M0 || dstType == DType::I8));
}

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in f32.
    float magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) // Infinity or NaN; the payload moves up unchanged.
    return bitsToFloat(sign | 0x7f800000u | (mantissa << 13));
  return bitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

float bfloat16ToFloat(uint16_t bits) {
  // bfloat16 is the upper half of a float, so widening is exact.
  return bitsToFloat(uint32_t(bits) << 16);
}

namespace {
float decodeFloat8E4M3(uint8_t bits) {
  bool negative = bits & 0x80;
  unsigned exponent = (bits >> 3) & 0xf;
  unsigned mantissa = bits & 0x7;
  float magnitude;
  if (exponent == 0xf && mantissa == 0x7)
    magnitude = std::numeric_limits<float>::quiet_NaN();
  else if (exponent == 0) // Subnormal: mantissa * 2^-9.
    magnitude = std::ldexp(float(mantissa), -9);
  else
    magnitude = std::ldexp(float(8 + mantissa), int(exponent) - 7 - 3);
  return negative ? -magnitude : magnitude;
}
} // namespace

float float8E4M3ToFloat(uint8_t bits) {
  // A table: random fp8 checkpoints round billions of values through the
  // binary search of floatToFloat8E4M3, which decodes at every step.
  static const std::array<float, 256> table = [] {
    std::array<float, 256> values;
    for (unsigned b = 0; b < 256; ++b)
      values[b] = decodeFloat8E4M3(uint8_t(b));
    return values;
  }();
  return table[bits];
}

float float8E5M2ToFloat(uint8_t bits) {
  return halfToFloat(uint16_t(uint16_t(bits) << 8));
}

float float8E8M0ToFloat(uint8_t bits) {
  if (bits == 0xff)
    return std::numeric_limits<float>::quiet_NaN();
  // 2^-127 is an f32 subnormal, still exact.
  return std::ldexp(1.0f, int(bits) - 127);
}

float float4E2M1ToFloat(uint8_t nibble) {
  static constexpr float kMagnitudes[8] = {0.0f, 0.5f, 1.0f, 1.5f,
                                           2.0f, 3.0f, 4.0f, 6.0f};
  float magnitude = kMagnitudes[nibble & 0x7];
  return (nibble & 0x8) ? -magnitude : magnitude;
}

uint16_t floatToHalf(float value) {
  uint32_t bits = floatBits(value);
  uint32_t sign = (bits >> 16) & 0x8000;
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) // NaN: keep the top payload bits, force quiet.
    return uint16_t(sign | 0x7e00 | ((magnitude >> 13) & 0x3ff));
  // 65520 is halfway between 65504 (the largest half, odd mantissa) and the
  // next power of two, so it and everything above rounds to infinity.
  if (magnitude >= 0x477ff000)
    return uint16_t(sign | 0x7c00);
  if (magnitude < 0x38800000) {  // Below 2^-14: an f16 subnormal or zero.
    if (magnitude <= 0x33000000) // <= 2^-25 rounds to (even) zero.
      return uint16_t(sign);
    uint32_t exponent = magnitude >> 23;
    uint32_t mantissa = (magnitude & 0x7fffff) | 0x800000;
    // value = mantissa * 2^(exponent-150); in units of 2^-24 that is a
    // right shift by 126 - exponent (14..24). A carry to 0x400 is the
    // smallest normal, which is the right encoding.
    return uint16_t(sign | roundShiftRightEven(mantissa, 126 - exponent));
  }
  // Normal: rebias the exponent (127 -> 15); a mantissa carry into the
  // exponent is correct, and overflow was handled above.
  return uint16_t(sign | roundShiftRightEven(magnitude - 0x38000000, 13));
}

uint16_t floatToBfloat16(float value) {
  uint32_t bits = floatBits(value);
  // Truncating a NaN whose payload lives only in the low half would give an
  // infinity; setting the quiet bit keeps it a NaN (and keeps its sign).
  if ((bits & 0x7fffffff) > 0x7f800000)
    return uint16_t((bits >> 16) | 0x0040);
  // Round to nearest even on the 16 dropped bits. A carry out of the
  // mantissa bumps the exponent, and one out of the largest finite exponent
  // gives infinity, both correct.
  uint32_t lsb = (bits >> 16) & 1;
  return uint16_t((bits + 0x7fff + lsb) >> 16);
}

uint8_t floatToFloat8E4M3(float value) {
  if (std::isnan(value))
    return 0x7f;
  uint8_t sign = std::signbit(value) ? 0x80 : 0;
  float magnitude = std::fabs(value);
  if (magnitude >= 448.0f)
    return sign | 0x7e;
  // The 126 finite magnitudes are increasing in their encoding: take the
  // nearest, the even encoding on a tie.
  uint8_t low = 0, high = 0x7e;
  while (high - low > 1) {
    uint8_t mid = uint8_t((low + high) / 2);
    (float8E4M3ToFloat(mid) <= magnitude ? low : high) = mid;
  }
  float below = magnitude - float8E4M3ToFloat(low);
  float above = float8E4M3ToFloat(high) - magnitude;
  uint8_t nearest = below < above   ? low
                    : above < below ? high
                                    : (low % 2 == 0 ? low : high);
  return sign | nearest;
}

uint8_t floatToFloat4E2M1(float value) {
  uint8_t sign = std::signbit(value) ? 0x8 : 0;
  float magnitude = std::fabs(value);
  uint8_t best = 0;
  for (uint8_t code = 1; code < 8; ++code) {
    float distance = std::fabs(float4E2M1ToFloat(code) - magnitude);
    float bestDistance = std::fabs(float4E2M1ToFloat(best) - magnitude);
    if (distance < bestDistance || (distance == bestDistance && code % 2 == 0))
      best = code;
  }
  return sign | best;
}

uint8_t floatToFloat8E8M0(float value) {
  int exponent = 0;
  float fraction = std::frexp(value, &exponent); // value = fraction * 2^exp
  if (!(value > 0) || std::isinf(value) || fraction != 0.5f ||
      exponent - 1 < -127 || exponent - 1 > 127)
    return 0xff;
  return uint8_t(exponent - 1 + 127);
}

float roundTo(DType dtype, float value) {
  switch (dtype) {
  case DType::F16:
    return halfToFloat(floatToHalf(value));
  case DType::BF16:
    return bfloat16ToFloat(floatToBfloat16(value));
  case DType::F8E4M3:
    return float8E4M3ToFloat(floatToFloat8E4M3(value));
  default:
    return value;
  }
}

void storeFromFloat(DType dtype, void *data, size_t index, float value) {
  unsigned char *bytes = static_cast<unsigned char *>(data);
  if (dtype == DType::F32) {
    std::memcpy(bytes + index * 4, &value, 4);
    return;
  }
  if (dtype == DType::F8E4M3 || dtype == DType::F8E8M0 || dtype == DType::U8 ||
      dtype == DType::I8) {
    bytes[index] = dtype == DType::F8E4M3   ? floatToFloat8E4M3(value)
                   : dtype == DType::F8E8M0 ? floatToFloat8E8M0(value)
                                            : uint8_t(int(value));
    return;
  }
  uint16_t bits =
      dtype == DType::F16 ? floatToHalf(value) : floatToBfloat16(value);
  std::memcpy(bytes + index * 2, &bits, 2);
}

float loadAsFloat(DType dtype, const void *data, size_t index) {
  const unsigned char *bytes = static_cast<const unsigned char *>(data);
  switch (dtype) {
  case DType::F64: {
    double value;
    std::memcpy(&value, bytes + index * 8, 8);
    return float(value);
  }
  case DType::F32: {
    float value;
    std::memcpy(&value, bytes + index * 4, 4);
    return value;
  }
  case DType::F16:
  case DType::BF16: {
    uint16_t bits;
    std::memcpy(&bits, bytes + index * 2, 2);
    return dtype == DType::F16 ? halfToFloat(bits) : bfloat16ToFloat(bits);
  }
  case DType::F8E4M3:
    return float8E4M3ToFloat(bytes[index]);
  case DType::F8E5M2:
    return float8E5M2ToFloat(bytes[index]);
  case DType::F8E8M0:
    return float8E8M0ToFloat(bytes[index]);
  case DType::U8:
    return float(bytes[index]);
  default:
    return std::numeric_limits<float>::quiet_NaN();
  }
}

} // namespace moe::support

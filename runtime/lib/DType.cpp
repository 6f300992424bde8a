//===- DType.cpp - Element types and float conversions --------------------===//

#include "DType.h"

#include <cstring>

namespace moert {

bool parseDType(const std::string &name, DType &out) {
  static const struct {
    const char *name;
    DType dtype;
  } table[] = {{"f32", DType::F32},
               {"f16", DType::F16},
               {"bf16", DType::BF16},
               {"i32", DType::I32},
               {"i64", DType::I64}};
  for (const auto &entry : table) {
    if (name == entry.name) {
      out = entry.dtype;
      return true;
    }
  }
  return false;
}

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  }
  return "?";
}

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::I64:
    return 8;
  }
  return 0;
}

bool isFloat(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

static uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

static float bitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in f32.
    float magnitude = float(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31)
    return bitsToFloat(sign | 0x7f800000u | (mantissa << 13));
  return bitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

float bfloat16ToFloat(uint16_t bits) {
  return bitsToFloat(uint32_t(bits) << 16);
}

/// Drops the low `shift` bits of `value`, rounding to nearest, ties to even.
static uint32_t roundShiftRightEven(uint32_t value, unsigned shift) {
  uint32_t quotient = value >> shift;
  uint32_t remainder = value & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (remainder > half || (remainder == half && (quotient & 1)))
    ++quotient;
  return quotient;
}

uint16_t floatToHalf(float value) {
  uint32_t bits = floatBits(value);
  uint32_t sign = (bits >> 16) & 0x8000;
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) // NaN: keep the top payload bits, force quiet.
    return uint16_t(sign | 0x7e00 | ((magnitude >> 13) & 0x3ff));
  if (magnitude >= 0x477ff000) // >= 65520 (the tie above 65504), or inf.
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
  if ((bits & 0x7fffffff) > 0x7f800000)
    return uint16_t((bits >> 16) | 0x0040);
  uint32_t lsb = (bits >> 16) & 1;
  return uint16_t((bits + 0x7fff + lsb) >> 16);
}

} // namespace moert

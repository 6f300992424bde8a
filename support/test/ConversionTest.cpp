//===- ConversionTest.cpp - float <-> half/bfloat16 rounding --------------===//
//
// Exhaustive and sampled checks of the rounding conversions against a slow
// reference (binary search over the encodings, distances in double) and, where
// the compiler has _Float16, against the compiler's own conversion.
//
//===----------------------------------------------------------------------===//

#include "moe-support/DType.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace moe::support;

namespace {

uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float fromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

TEST(Conversion, Bf16Basics) {
  EXPECT_EQ(floatToBfloat16(1.0f), 0x3F80);
  EXPECT_EQ(bfloat16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(floatToBfloat16(-2.0f), 0xC000);
  EXPECT_EQ(bfloat16ToFloat(0xC000), -2.0f);
  EXPECT_EQ(floatToBfloat16(0.0f), 0x0000);
  EXPECT_EQ(floatToBfloat16(-0.0f), 0x8000);
  EXPECT_TRUE(std::signbit(bfloat16ToFloat(0x8000)));
  EXPECT_EQ(bfloat16ToFloat(0x8000), 0.0f);
  float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(floatToBfloat16(inf), 0x7F80);
  EXPECT_EQ(floatToBfloat16(-inf), 0xFF80);
  EXPECT_EQ(bfloat16ToFloat(0x7F80), inf);
  EXPECT_EQ(bfloat16ToFloat(0xFF80), -inf);
}

TEST(Conversion, Bf16RoundsToNearestEven) {
  // 1.00390625 = 1 + 2^-8 lies exactly halfway between 1.0 (0x3F80, even)
  // and 1.0078125 (0x3F81): ties go to even, down.
  EXPECT_EQ(bitsOf(1.00390625f), 0x3F808000u);
  EXPECT_EQ(floatToBfloat16(1.00390625f), 0x3F80);
  // Halfway between 0x3F81 (odd) and 0x3F82: ties go up, to even.
  EXPECT_EQ(floatToBfloat16(fromBits(0x3F818000u)), 0x3F82);
  // Just above and below the halfway point.
  EXPECT_EQ(floatToBfloat16(fromBits(0x3F808001u)), 0x3F81);
  EXPECT_EQ(floatToBfloat16(fromBits(0x3F807FFFu)), 0x3F80);
  EXPECT_EQ(floatToBfloat16(-1.00390625f), 0xBF80);
  // A carry out of the mantissa moves to the next binade.
  EXPECT_EQ(floatToBfloat16(fromBits(0x3FFFFFFFu)), 0x4000);
  // The largest floats round past the largest bfloat16 to infinity.
  EXPECT_EQ(floatToBfloat16(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(floatToBfloat16(-std::numeric_limits<float>::max()), 0xFF80);
  // The largest finite bfloat16 stays itself.
  EXPECT_EQ(floatToBfloat16(bfloat16ToFloat(0x7F7F)), 0x7F7F);
  // Float subnormals round like everything else.
  EXPECT_EQ(floatToBfloat16(fromBits(0x00008000u)), 0x0000); // tie to even
  EXPECT_EQ(floatToBfloat16(fromBits(0x00018000u)), 0x0002); // tie to even
}

TEST(Conversion, Bf16NaNStaysNaN) {
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(floatToBfloat16(std::nanf("")))));
  // Payloads only in the low half must not turn into infinity.
  uint16_t low = floatToBfloat16(fromBits(0x7F800001u));
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(low)));
  uint16_t negative = floatToBfloat16(fromBits(0xFF800001u));
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(negative)));
  EXPECT_EQ(negative & 0x8000, 0x8000);
  // A NaN whose payload is all ones must not carry into the sign.
  EXPECT_TRUE(
      std::isnan(bfloat16ToFloat(floatToBfloat16(fromBits(0x7FFFFFFFu)))));
  EXPECT_EQ(floatToBfloat16(fromBits(0x7FFFFFFFu)) & 0x8000, 0);
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(0x7FC0)));
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(0x7F81)));
}

TEST(Conversion, Bf16EveryValueRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    float value = bfloat16ToFloat(static_cast<uint16_t>(bits));
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(bfloat16ToFloat(floatToBfloat16(value)))) << bits;
      continue;
    }
    ASSERT_EQ(floatToBfloat16(value), bits);
    ASSERT_EQ(roundTo(DType::BF16, value), value);
  }
}

/// Rounds `value` to the format whose non-negative encodings 0..`infBits` are
/// ordered like their values, the slow way: find the neighbours by binary
/// search and compare distances in double. Past the largest finite value the
/// infinity encoding stands for the next power of two, as IEEE rounding with
/// an unbounded exponent requires.
template <typename ToFloat>
uint16_t referenceRound(float value, uint16_t infBits, double infStandsFor,
                        ToFloat toFloat) {
  uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  double magnitude = std::fabs(static_cast<double>(value));
  auto valueOf = [&](uint32_t bits) {
    return bits == infBits ? infStandsFor : static_cast<double>(toFloat(bits));
  };
  if (magnitude >= infStandsFor)
    return sign | infBits;
  // The largest encoding whose value is <= magnitude.
  uint32_t low = 0, high = infBits;
  while (high - low > 1) {
    uint32_t mid = (low + high) / 2;
    (valueOf(mid) <= magnitude ? low : high) = mid;
  }
  double below = magnitude - valueOf(low);
  double above = valueOf(low + 1) - magnitude;
  bool up = above < below || (above == below && (low & 1));
  return sign | static_cast<uint16_t>(up ? low + 1 : low);
}

/// Finite floats spread over every exponent, plus values near the formats'
/// rounding boundaries.
std::vector<float> sampleFloats() {
  std::mt19937 rng(12345);
  std::vector<float> values;
  for (int i = 0; i < 200000; ++i) {
    float value = fromBits(static_cast<uint32_t>(rng()));
    if (std::isfinite(value))
      values.push_back(value);
  }
  // Exponents where half-precision is interesting (2^-26 .. 2^17).
  std::uniform_real_distribution<float> exponent(-26.0f, 17.0f);
  for (int i = 0; i < 200000; ++i) {
    float value = std::exp2(exponent(rng));
    values.push_back(i % 2 ? value : -value);
  }
  for (uint32_t bits = 0; bits < 0x7C00; ++bits) {
    // Each half value, the halfway points around it and their neighbours.
    float value = halfToFloat(static_cast<uint16_t>(bits));
    float next = halfToFloat(static_cast<uint16_t>(bits + 1));
    float mid = static_cast<float>((static_cast<double>(value) + next) / 2);
    for (float v :
         {value, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)})
      values.push_back(v);
  }
  for (float v :
       {65504.0f, 65519.0f, 65519.99f, 65520.0f, 65536.0f, 1e-8f, 2.9802322e-8f,
        5.9604645e-8f, 6.1035156e-5f, 0.0f, -0.0f,
        std::numeric_limits<float>::max(), std::numeric_limits<float>::min(),
        std::numeric_limits<float>::denorm_min()})
    values.push_back(v);
  return values;
}

TEST(Conversion, Bf16MatchesSlowReference) {
  for (float value : sampleFloats()) {
    uint16_t expected = referenceRound(value, 0x7F80, 0x1p128, bfloat16ToFloat);
    ASSERT_EQ(floatToBfloat16(value), expected) << value;
  }
}

TEST(Conversion, F16Basics) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(halfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(floatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(floatToHalf(0.5f), 0x3800);
  EXPECT_EQ(floatToHalf(0.0f), 0x0000);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_TRUE(std::signbit(halfToFloat(0x8000)));
  // 0.1 rounds to 0x2E66 (0.0999755859375).
  EXPECT_EQ(floatToHalf(0.1f), 0x2E66);
  EXPECT_EQ(halfToFloat(0x2E66), 0.0999755859375f);
}

TEST(Conversion, F16Range) {
  float inf = std::numeric_limits<float>::infinity();
  // 65504 is the largest half; up to just below 65520 rounds down to it.
  EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(halfToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(floatToHalf(65519.0f), 0x7BFF);
  EXPECT_EQ(floatToHalf(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
  // 65520 is the tie with 2^16; 65504 is odd, so it rounds to infinity.
  EXPECT_EQ(floatToHalf(65520.0f), 0x7C00);
  EXPECT_EQ(floatToHalf(70000.0f), 0x7C00);
  EXPECT_EQ(floatToHalf(-70000.0f), 0xFC00);
  EXPECT_EQ(halfToFloat(floatToHalf(70000.0f)), inf);
  EXPECT_EQ(floatToHalf(inf), 0x7C00);
  EXPECT_EQ(floatToHalf(-inf), 0xFC00);
  EXPECT_EQ(halfToFloat(0xFC00), -inf);
  EXPECT_EQ(roundTo(DType::F16, 1e6f), inf);
}

TEST(Conversion, F16Subnormals) {
  // The smallest subnormal is 2^-24 (about 5.96e-8); half of it is the tie
  // that goes to (even) zero. 1e-8 is below that, so it becomes zero.
  EXPECT_EQ(floatToHalf(1e-8f), 0x0000);
  EXPECT_EQ(floatToHalf(-1e-8f), 0x8000);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(floatToHalf(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(floatToHalf(3e-8f), 0x0001);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  // 1.5 * 2^-24 is a tie between 1 and 2 subnormal steps: even, up.
  EXPECT_EQ(floatToHalf(std::ldexp(1.5f, -24)), 0x0002);
  // 2.5 * 2^-24: tie between 2 and 3, stays at even 2.
  EXPECT_EQ(floatToHalf(std::ldexp(2.5f, -24)), 0x0002);
  // The largest subnormal and the smallest normal.
  EXPECT_EQ(halfToFloat(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(floatToHalf(std::ldexp(1023.0f, -24)), 0x03FF);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14)), 0x0400);
  // Halfway between the largest subnormal and the smallest normal: up.
  EXPECT_EQ(floatToHalf(std::ldexp(1023.5f, -24)), 0x0400);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(roundTo(DType::F16, 1e-8f), 0.0f);
}

TEST(Conversion, F16NaNStaysNaN) {
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(std::nanf("")))));
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(fromBits(0x7F800001u)))));
  uint16_t negative = floatToHalf(fromBits(0xFFC00000u));
  EXPECT_TRUE(std::isnan(halfToFloat(negative)));
  EXPECT_EQ(negative & 0x8000, 0x8000);
  EXPECT_TRUE(std::isnan(halfToFloat(0x7E00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7C01)));
  EXPECT_TRUE(std::isnan(roundTo(DType::F16, std::nanf(""))));
  EXPECT_TRUE(std::isnan(roundTo(DType::BF16, std::nanf(""))));
  EXPECT_TRUE(std::isnan(roundTo(DType::F32, std::nanf(""))));
}

TEST(Conversion, F16EveryValueRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    float value = halfToFloat(static_cast<uint16_t>(bits));
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(value)))) << bits;
      continue;
    }
    ASSERT_EQ(floatToHalf(value), bits);
    ASSERT_EQ(roundTo(DType::F16, value), value);
  }
}

TEST(Conversion, F16MatchesSlowReference) {
  for (float value : sampleFloats()) {
    uint16_t expected = referenceRound(value, 0x7C00, 65536.0, halfToFloat);
    ASSERT_EQ(floatToHalf(value), expected) << value;
  }
}

#ifdef __FLT16_MAX__
TEST(Conversion, F16MatchesCompiler) {
  // The compiler's own float -> _Float16 conversion rounds to nearest even.
  for (float value : sampleFloats()) {
    _Float16 half = static_cast<_Float16>(value);
    uint16_t bits;
    std::memcpy(&bits, &half, sizeof(bits));
    ASSERT_EQ(floatToHalf(value), bits) << value;
    ASSERT_EQ(halfToFloat(bits), static_cast<float>(half));
  }
}
#endif

TEST(Conversion, RoundToF32IsIdentity) {
  for (float value : {0.1f, -3.3f, 1e-40f, 3.4e38f})
    EXPECT_EQ(bitsOf(roundTo(DType::F32, value)), bitsOf(value));
  EXPECT_EQ(roundTo(DType::BF16, 1.00390625f), 1.0f);
  EXPECT_EQ(roundTo(DType::F16, 0.1f), 0.0999755859375f);
}

} // namespace

//===- DTypeTest.cpp - Element types and scalar conversions ---------------===//
//
// Expected bit patterns are written out by hand from the IEEE formats, the
// OCP 8-bit floating point spec (e4m3fn, e5m2) and the OCP MX spec (e2m1,
// e8m0).
//
//===----------------------------------------------------------------------===//

#include "moe-support/DType.h"
#include "TestUtil.h"

#include <cmath>
#include <gtest/gtest.h>

using namespace moe::support;
using moert_test::floatOf;

namespace {

TEST(DType, ManifestNames) {
  std::optional<DType> d = parseManifestName("bf16");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, DType::BF16);
  EXPECT_EQ(elementSize(*d), 2u);
  d = parseManifestName("i64");
  ASSERT_TRUE(d);
  EXPECT_EQ(elementSize(*d), 8u);
  EXPECT_FALSE(isComputeFloat(*d));
  EXPECT_STREQ(manifestName(DType::F16), "f16");
  EXPECT_EQ(manifestName(DType::F8E5M2), nullptr);
  // Quantized weights: fp8 values, e8m0 scales, bytes of two e2m1.
  EXPECT_STREQ(manifestName(DType::F8E4M3), "f8e4m3");
  EXPECT_EQ(parseManifestName("f8e8m0"), DType::F8E8M0);
  EXPECT_EQ(parseManifestName("i8"), DType::I8);
  EXPECT_TRUE(isWeightStorage(DType::F8E4M3));
  EXPECT_FALSE(isWeightStorage(DType::U8));
  EXPECT_TRUE(canPack(DType::U8, DType::F8E8M0));
  EXPECT_TRUE(canPack(DType::BF16, DType::F32));
  EXPECT_FALSE(canPack(DType::F32, DType::F8E4M3)); // never quantized here
  EXPECT_FALSE(canPack(DType::U8, DType::F8E4M3));
  EXPECT_FALSE(parseManifestName("BF16")); // manifest names are lower case
  EXPECT_FALSE(parseManifestName("fp8"));
}

TEST(DType, SafeTensorsNames) {
  // Every type round-trips through its header name.
  for (int i = 0; i <= int(DType::Bool); ++i) {
    std::optional<DType> d = parseSafeTensorsName(safeTensorsName(DType(i)));
    ASSERT_TRUE(d) << i;
    EXPECT_EQ(int(*d), i);
  }
  EXPECT_EQ(parseSafeTensorsName("F8_E4M3"), DType::F8E4M3);
  EXPECT_EQ(elementSize(DType::F8E4M3), 1u);
  EXPECT_EQ(elementSize(DType::U8), 1u);
  EXPECT_EQ(elementSize(DType::F64), 8u);
  EXPECT_FALSE(parseSafeTensorsName("f32")); // header names are upper case
  EXPECT_FALSE(parseSafeTensorsName("F4"));
}

TEST(DType, Float8E4M3Decodes) {
  EXPECT_EQ(float8E4M3ToFloat(0x00), 0.0f);
  EXPECT_TRUE(std::signbit(float8E4M3ToFloat(0x80)));
  EXPECT_EQ(float8E4M3ToFloat(0x38), 1.0f); // exponent 7 = bias
  EXPECT_EQ(float8E4M3ToFloat(0x3c), 1.5f);
  EXPECT_EQ(float8E4M3ToFloat(0xc0), -2.0f);
  EXPECT_EQ(float8E4M3ToFloat(0x7e), 448.0f); // the largest finite
  EXPECT_EQ(float8E4M3ToFloat(0x77), 240.0f);
  EXPECT_EQ(float8E4M3ToFloat(0x01), std::ldexp(1.0f, -9)); // subnormal
  EXPECT_EQ(float8E4M3ToFloat(0x07), 7 * std::ldexp(1.0f, -9));
  EXPECT_EQ(float8E4M3ToFloat(0x08), std::ldexp(1.0f, -6)); // smallest normal
  // No infinities: exponent 15 is finite except S.1111.111, the NaN.
  EXPECT_EQ(float8E4M3ToFloat(0x78), 256.0f);
  EXPECT_TRUE(std::isnan(float8E4M3ToFloat(0x7f)));
  EXPECT_TRUE(std::isnan(float8E4M3ToFloat(0xff)));
  // Monotonic over the positive codes.
  for (int b = 1; b < 0x7f; ++b)
    ASSERT_LT(float8E4M3ToFloat(uint8_t(b - 1)), float8E4M3ToFloat(uint8_t(b)))
        << b;
}

TEST(DType, Float8E5M2AndE8M0Decode) {
  EXPECT_EQ(float8E5M2ToFloat(0x3c), 1.0f);
  EXPECT_EQ(float8E5M2ToFloat(0x7b), 57344.0f);
  EXPECT_TRUE(std::isinf(float8E5M2ToFloat(0x7c)));
  EXPECT_EQ(float8E5M2ToFloat(0x01), std::ldexp(1.0f, -16));
  EXPECT_EQ(float8E8M0ToFloat(127), 1.0f);
  EXPECT_EQ(float8E8M0ToFloat(128), 2.0f);
  EXPECT_EQ(float8E8M0ToFloat(120), 1.0f / 128);
  EXPECT_EQ(float8E8M0ToFloat(0), std::ldexp(1.0f, -127));
  EXPECT_EQ(float8E8M0ToFloat(254), std::ldexp(1.0f, 127));
  EXPECT_TRUE(std::isnan(float8E8M0ToFloat(255)));
}

TEST(DType, Float4E2M1Decodes) {
  const float expected[16] = {0,     0.5f,  1,  1.5f,  2,  3,  4,  6,
                              -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int n = 0; n < 16; ++n) {
    EXPECT_EQ(float4E2M1ToFloat(uint8_t(n)), expected[n]) << n;
    EXPECT_EQ(std::signbit(float4E2M1ToFloat(uint8_t(n))), n >= 8) << n;
  }
  // Only the low nibble counts.
  EXPECT_EQ(float4E2M1ToFloat(0xf1), 0.5f);
}

TEST(DType, LoadAsFloatReadsUnalignedLittleEndian) {
  unsigned char bytes[9] = {0xff, 0, 0, 0x80, 0x3f, 0x00, 0x3c, 0x80, 0xbf};
  EXPECT_EQ(loadAsFloat(DType::F32, bytes + 1, 0), 1.0f);
  EXPECT_EQ(loadAsFloat(DType::F16, bytes + 5, 0), 1.0f);
  EXPECT_EQ(loadAsFloat(DType::BF16, bytes + 7, 0), -1.0f);
  EXPECT_EQ(loadAsFloat(DType::F8E4M3, bytes, 4), 1.875f); // 0x3f
  EXPECT_EQ(roundTo(DType::BF16, 1.00390625f), 1.0f);
  EXPECT_EQ(roundTo(DType::F16, 1.00390625f), 1.00390625f);
  EXPECT_EQ(roundTo(DType::F32, 1.00390625f), 1.00390625f);
}

TEST(DType, Bfloat16RoundsToNearestEven) {
  EXPECT_EQ(floatToBfloat16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBfloat16(-2.0f), 0xc000);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to the even 1.
  EXPECT_EQ(floatToBfloat16(floatOf(0x3f808000)), 0x3f80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up.
  EXPECT_EQ(floatToBfloat16(floatOf(0x3f818000)), 0x3f82);
  // Just above the tie rounds up, just below rounds down.
  EXPECT_EQ(floatToBfloat16(floatOf(0x3f808001)), 0x3f81);
  EXPECT_EQ(floatToBfloat16(floatOf(0x3f807fff)), 0x3f80);
  // The largest finite f32 rounds to infinity.
  EXPECT_EQ(floatToBfloat16(floatOf(0x7f7fffff)), 0x7f80);
  EXPECT_EQ(floatToBfloat16(INFINITY), 0x7f80);
  // NaN stays NaN even when its payload is only in the low bits.
  uint16_t nan = floatToBfloat16(floatOf(0x7f800001));
  EXPECT_EQ(nan & 0x7f80, 0x7f80);
  EXPECT_NE(nan & 0x007f, 0);
  EXPECT_EQ(bfloat16ToFloat(0x3f82), 1.015625f);
}

TEST(DType, HalfRoundsToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-1.5f), 0xbe00);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // the tie rounds to infinity
  EXPECT_EQ(floatToHalf(-INFINITY), 0xfc00);
  // 1 + 2^-11 ties to 1; 1 + 3 * 2^-11 ties up to 1 + 2^-9.
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  // Subnormals: 2^-24 is the smallest; 2^-25 ties to 0; 3 * 2^-25 ties to
  // 2 * 2^-24; just above 2^-25 rounds to 2^-24.
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(floatToHalf(3 * std::ldexp(1.0f, -25)), 0x0002);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25) * 1.0001f), 0x0001);
  EXPECT_EQ(floatToHalf(-std::ldexp(1.0f, -30)), 0x8000);
  // The largest subnormal rounds up into the smallest normal.
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14) * (1 - 1.0f / 4096)), 0x0400);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14)), 0x0400);
  uint16_t nan = floatToHalf(NAN);
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
}

TEST(DType, HalfDecodes) {
  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(0xc000), -2.0f);
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(0x83ff), -std::ldexp(1023.0f, -24));
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(halfToFloat(0x7c00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7e00)));
  EXPECT_TRUE(std::signbit(halfToFloat(0x8000)));
  // Every finite half survives a round trip through f32.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00)
      continue;
    ASSERT_EQ(floatToHalf(halfToFloat(uint16_t(h))), h) << std::hex << h;
  }
}

TEST(DType, NarrowsToQuantizedFormats) {
  // Every fp8 e4m3 and e2m1 value encodes back to itself.
  for (unsigned bits = 0; bits < 256; ++bits) {
    float value = float8E4M3ToFloat(uint8_t(bits));
    if (std::isnan(value) || (value == 0 && (bits & 0x80)))
      continue;
    EXPECT_EQ(floatToFloat8E4M3(value), bits) << bits;
  }
  for (unsigned code = 1; code < 16; ++code)
    if (code != 8)
      EXPECT_EQ(floatToFloat4E2M1(float4E2M1ToFloat(code)), code) << code;
  // Ties go to the even encoding, overflow saturates, NaN stays NaN.
  EXPECT_EQ(float8E4M3ToFloat(floatToFloat8E4M3(1.0625f)), 1.0f);
  EXPECT_EQ(float8E4M3ToFloat(floatToFloat8E4M3(1.1875f)), 1.25f);
  EXPECT_EQ(float8E4M3ToFloat(floatToFloat8E4M3(1000.0f)), 448.0f);
  EXPECT_EQ(float8E4M3ToFloat(floatToFloat8E4M3(-1000.0f)), -448.0f);
  EXPECT_TRUE(std::isnan(float8E4M3ToFloat(floatToFloat8E4M3(NAN))));
  EXPECT_EQ(roundTo(DType::F8E4M3, 0.3f), 0.3125f);
  EXPECT_EQ(float4E2M1ToFloat(floatToFloat4E2M1(2.5f)), 2.0f);
  EXPECT_EQ(float4E2M1ToFloat(floatToFloat4E2M1(5.0f)), 4.0f);
  EXPECT_EQ(float4E2M1ToFloat(floatToFloat4E2M1(-0.74f)), -0.5f);
  EXPECT_EQ(float4E2M1ToFloat(floatToFloat4E2M1(100.0f)), 6.0f);
  // e8m0 holds exactly the powers of two 2^-127 .. 2^127.
  EXPECT_EQ(floatToFloat8E8M0(1.0f), 127);
  EXPECT_EQ(floatToFloat8E8M0(0.25f), 125);
  EXPECT_EQ(floatToFloat8E8M0(std::ldexp(1.0f, -127)), 0);
  EXPECT_EQ(floatToFloat8E8M0(3.0f), 0xff);
  EXPECT_EQ(floatToFloat8E8M0(0.0f), 0xff);
  unsigned char byte[1];
  storeFromFloat(DType::U8, byte, 0, 200.0f);
  EXPECT_EQ(loadAsFloat(DType::U8, byte, 0), 200.0f);
}

} // namespace

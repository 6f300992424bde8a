//===- DTypeTest.cpp - f16 / bf16 conversions -----------------------------===//
//
// Expected bit patterns are written out by hand from the IEEE formats.
//
//===----------------------------------------------------------------------===//

#include "DType.h"
#include "TestUtil.h"

#include <cmath>
#include <gtest/gtest.h>

using namespace moert;
using moert_test::floatOf;

namespace {

TEST(DType, Names) {
  DType d;
  ASSERT_TRUE(parseDType("bf16", d));
  EXPECT_EQ(d, DType::BF16);
  EXPECT_EQ(dtypeSize(d), 2u);
  ASSERT_TRUE(parseDType("i64", d));
  EXPECT_EQ(dtypeSize(d), 8u);
  EXPECT_FALSE(isFloat(d));
  EXPECT_STREQ(dtypeName(DType::F16), "f16");
  EXPECT_FALSE(parseDType("BF16", d)); // manifest names are lower case
  EXPECT_FALSE(parseDType("fp8", d));
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

} // namespace

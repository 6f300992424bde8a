//===- StridedCopyTest.cpp - the weight-packing copy ----------------------===//

#include "moe-support/StridedCopy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

using namespace moe::support;

namespace {

TEST(StridedCopy, TransposesIntoAStridedBuffer) {
  // src is [2, 3] row-major; dst receives its transpose [3, 2] at offset 1
  // of a row stride 4 buffer.
  std::vector<float> src = {1, 2, 3, 4, 5, 6};
  std::vector<float> dst(13, -1.0f);
  StridedCopy copy{0, 3, 2, 1, 3, 1, 4, 1};
  EXPECT_EQ(copy.lastSourceElement(), 5);
  runStridedCopy(copy, DType::F32, src.data(), DType::F32, dst.data());
  std::vector<float> expected = {-1, 1, 4, -1, -1, 2, 5, -1, -1, 3, 6, -1, -1};
  EXPECT_EQ(dst, expected);
}

TEST(StridedCopy, ConvertsOnceAndKeepsBitsWhenTypesAgree) {
  // 1 + 2^-8 rounds to 1.0 in bf16 (tie to even); f16 holds it exactly.
  std::vector<float> src = {1.00390625f, -2.0f};
  std::vector<uint16_t> bf16(2), half(2);
  StridedCopy copy{0, 1, 2, 2, 1, 0, 2, 1};
  runStridedCopy(copy, DType::F32, src.data(), DType::BF16, bf16.data());
  EXPECT_EQ(bf16[0], 0x3F80);
  EXPECT_EQ(bf16[1], 0xC000);
  runStridedCopy(copy, DType::F32, src.data(), DType::F16, half.data());
  EXPECT_EQ(halfToFloat(half[0]), 1.00390625f);
  // bf16 -> bf16 copies bits, NaN payload included.
  std::vector<uint16_t> nan = {0x7FC1, 0xFF81}, out(2);
  runStridedCopy(copy, DType::BF16, nan.data(), DType::BF16, out.data());
  EXPECT_EQ(out, nan);
  // f16 -> f32 is exact.
  std::vector<float> wide(2);
  runStridedCopy(copy, DType::F16, half.data(), DType::F32, wide.data());
  EXPECT_EQ(wide[0], 1.00390625f);
  EXPECT_EQ(wide[1], -2.0f);
}

TEST(StridedCopy, ReadsUnalignedSources) {
  // A float at an odd byte address, as inside an mmapped checkpoint.
  unsigned char bytes[1 + 2 * sizeof(float)] = {};
  float values[2] = {3.5f, -0.25f};
  std::memcpy(bytes + 1, values, sizeof(values));
  std::vector<uint16_t> dst(2);
  runStridedCopy(StridedCopy{0, 1, 2, 2, 1, 0, 2, 1}, DType::F32, bytes + 1,
                 DType::BF16, dst.data());
  EXPECT_EQ(bfloat16ToFloat(dst[0]), 3.5f);
  EXPECT_EQ(bfloat16ToFloat(dst[1]), -0.25f);
}

} // namespace

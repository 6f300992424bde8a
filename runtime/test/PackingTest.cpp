//===- PackingTest.cpp - Strided copies with dtype conversion -------------===//

#include "Packing.h"
#include "TestUtil.h"

#include <cmath>
#include <gtest/gtest.h>

using namespace moert;
using moert_test::floatOf;
using moert_test::SafeTensorsWriter;
using moert_test::TempDir;

namespace {

PackStep makeStep(int64_t srcOffset, int64_t rows, int64_t cols,
                  int64_t srcRowStride, int64_t srcColStride, int64_t dstOffset,
                  int64_t dstRowStride, int64_t dstColStride) {
  PackStep s;
  s.buffer = 0;
  s.tensor = "t";
  s.srcOffset = srcOffset;
  s.rows = rows;
  s.cols = cols;
  s.srcRowStride = srcRowStride;
  s.srcColStride = srcColStride;
  s.dstOffset = dstOffset;
  s.dstRowStride = dstRowStride;
  s.dstColStride = dstColStride;
  return s;
}

/// A[r][c] = 10 r + c for a 4 x 6 F32 tensor, except for a few entries that
/// exercise bf16 rounding (in row 3, which the copy tests avoid).
float aValue(int r, int c) { return float(10 * r + c); }

class Packing : public ::testing::Test {
protected:
  TempDir dir;
  std::unique_ptr<moe::support::SafeTensorsFile> file;

  // A[3][0..5]: each tie case of f32 -> bf16 and its neighbours.
  static constexpr uint32_t kRoundingBits[6] = {
      0x3f808000, // 1 + 2^-8: tie, rounds to the even 1.0
      0x3f818000, // 1 + 3 * 2^-8: tie, rounds up to the even 1 + 2^-6
      0x3f808001, // just above a tie: up
      0x3f807fff, // just below a tie: down
      0xbf818000, // negative tie: magnitude to even
      0x7f7fffff, // largest finite f32: overflows to +inf
  };
  static constexpr uint16_t kRoundedBf16[6] = {0x3f80, 0x3f82, 0x3f81,
                                               0x3f80, 0xbf82, 0x7f80};

  void SetUp() override {
    std::vector<float> a;
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 6; ++c)
        a.push_back(r == 3 ? floatOf(kRoundingBits[c]) : aValue(r, c));
    SafeTensorsWriter w;
    w.addF32("A", {4, 6}, a);
    // B: BF16 [3, 4], exact small values 0.5 * (4 r + c) - 2.
    std::vector<uint16_t> b;
    for (int i = 0; i < 12; ++i)
      b.push_back(moert_test::exactBf16(0.5f * float(i) - 2.0f));
    w.add16("B", "BF16", {3, 4}, b);
    // C: F16 values whose bf16 rounding is a tie or not.
    w.add16("C", "F16", {5}, {0x3c04, 0x3c0c, 0x3c06, 0x3c03, 0x0001});
    uint8_t bytes[4] = {1, 2, 3, 4};
    w.add("U", "U8", {4}, bytes, 4);
    w.addF32("R5", {1, 1, 1, 2, 1}, {1, 2});
    w.addF32("Flat", {3, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    ASSERT_TRUE(w.write(dir.file("w.safetensors")));
    moe::support::SafeTensorsError error;
    file =
        moe::support::SafeTensorsFile::open(dir.file("w.safetensors"), error);
    ASSERT_NE(file, nullptr) << error.message;
  }

  const moe::support::TensorInfo &tensor(const char *name) {
    const moe::support::TensorInfo *t = file->find(name);
    EXPECT_NE(t, nullptr) << name;
    return *t;
  }

  /// Checks then runs a step into `dst`.
  void pack(const PackStep &step, const char *name, void *dst, DType dtype,
            Coverage &coverage) {
    Error e = checkPackStep(step, tensor(name), dtype, name);
    ASSERT_FALSE(e) << e.message();
    runPackStep(step, tensor(name), dst, dtype, coverage);
  }
};

constexpr uint32_t Packing::kRoundingBits[6];
constexpr uint16_t Packing::kRoundedBf16[6];

TEST_F(Packing, TransposeWithSwappedStrides) {
  // dst [6][3] = the transpose of A's rows 0..2.
  std::vector<float> dst(18, -1);
  Coverage coverage;
  ASSERT_FALSE(coverage.reset(18));
  pack(makeStep(0, 6, 3, 1, 6, 0, 3, 1), "A", dst.data(), DType::F32, coverage);
  for (int r = 0; r < 6; ++r)
    for (int c = 0; c < 3; ++c)
      EXPECT_EQ(dst[r * 3 + c], aValue(c, r)) << r << "," << c;
  EXPECT_TRUE(coverage.complete());
  EXPECT_EQ(coverage.firstUnwritten(), -1);
}

TEST_F(Packing, InterleavedColumnsAndSlices) {
  // gpt-oss style: A's even columns are "gate", odd ones "up"; pack rows
  // 0..2 as gate [3][3] then up [3][3] into one buffer.
  std::vector<float> dst(18, -1);
  Coverage coverage;
  ASSERT_FALSE(coverage.reset(18));
  pack(makeStep(0, 3, 3, 6, 2, 0, 3, 1), "A", dst.data(), DType::F32, coverage);
  EXPECT_EQ(coverage.written(), 9);
  EXPECT_EQ(coverage.firstUnwritten(), 9);
  pack(makeStep(1, 3, 3, 6, 2, 9, 3, 1), "A", dst.data(), DType::F32, coverage);
  for (int r = 0; r < 3; ++r) {
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(dst[r * 3 + k], aValue(r, 2 * k));
      EXPECT_EQ(dst[9 + r * 3 + k], aValue(r, 2 * k + 1));
    }
  }
  EXPECT_TRUE(coverage.complete());

  // DBRX style: a slice of rows via src_offset (rows 1..2 of A, columns
  // 2..5), written with a padded destination row stride.
  std::vector<float> slice(2 * 5, -1);
  Coverage sliceCoverage;
  ASSERT_FALSE(sliceCoverage.reset(10));
  pack(makeStep(6 + 2, 2, 4, 6, 1, 0, 5, 1), "A", slice.data(), DType::F32,
       sliceCoverage);
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 4; ++c)
      EXPECT_EQ(slice[r * 5 + c], aValue(1 + r, 2 + c));
    EXPECT_EQ(slice[r * 5 + 4], -1); // the padding is not written
  }
  EXPECT_EQ(sliceCoverage.written(), 8);
  EXPECT_EQ(sliceCoverage.firstUnwritten(), 4);

  // A 3-D tensor is read as its flat elements, strided destination columns.
  std::vector<float> flat(12, -1);
  Coverage flatCoverage;
  ASSERT_FALSE(flatCoverage.reset(12));
  pack(makeStep(0, 3, 4, 4, 1, 0, 1, 3), "Flat", flat.data(), DType::F32,
       flatCoverage);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      EXPECT_EQ(flat[r + 3 * c], float(4 * r + c));
  EXPECT_TRUE(flatCoverage.complete());
}

TEST_F(Packing, F32ToBf16RoundsToNearestEven) {
  std::vector<uint16_t> dst(6, 0xdead);
  Coverage coverage;
  ASSERT_FALSE(coverage.reset(6));
  pack(makeStep(18, 1, 6, 6, 1, 0, 6, 1), "A", dst.data(), DType::BF16,
       coverage);
  for (int c = 0; c < 6; ++c)
    EXPECT_EQ(dst[c], kRoundedBf16[c]) << "column " << c;
  // Exact values convert exactly.
  std::vector<uint16_t> exact(2);
  Coverage exactCoverage;
  ASSERT_FALSE(exactCoverage.reset(2));
  pack(makeStep(1, 1, 2, 6, 1, 0, 2, 1), "A", exact.data(), DType::BF16,
       exactCoverage);
  EXPECT_EQ(exact[0], 0x3f80); // 1.0
  EXPECT_EQ(exact[1], 0x4000); // 2.0
}

TEST_F(Packing, Bf16AndF16Sources) {
  // BF16 -> f32 is exact; take column 1 of B (B[r][1] = 0.5 (4 r + 1) - 2).
  std::vector<float> col(3, -1);
  Coverage coverage;
  ASSERT_FALSE(coverage.reset(3));
  pack(makeStep(1, 3, 1, 4, 0, 0, 1, 0), "B", col.data(), DType::F32, coverage);
  EXPECT_EQ(col[0], -1.5f);
  EXPECT_EQ(col[1], 0.5f);
  EXPECT_EQ(col[2], 2.5f);

  // BF16 -> f16: B[0][0..3] = -2, -1.5, -1, -0.5 in f16 bits.
  std::vector<uint16_t> half(4);
  Coverage halfCoverage;
  ASSERT_FALSE(halfCoverage.reset(4));
  pack(makeStep(0, 1, 4, 4, 1, 0, 4, 1), "B", half.data(), DType::F16,
       halfCoverage);
  EXPECT_EQ(half, (std::vector<uint16_t>{0xc000, 0xbe00, 0xbc00, 0xb800}));

  // F16 -> bf16 rounds once: 1 + 4 * 2^-10 ties to 1.0, 1 + 12 * 2^-10
  // ties to the even 1 + 2^-6, 1 + 6 * 2^-10 rounds up, 1 + 3 * 2^-10 down,
  // and the smallest f16 subnormal 2^-24 is exact in bf16.
  std::vector<uint16_t> bf(5);
  Coverage bfCoverage;
  ASSERT_FALSE(bfCoverage.reset(5));
  pack(makeStep(0, 1, 5, 5, 1, 0, 5, 1), "C", bf.data(), DType::BF16,
       bfCoverage);
  EXPECT_EQ(bf,
            (std::vector<uint16_t>{0x3f80, 0x3f82, 0x3f81, 0x3f80, 0x3380}));

  // Same type copies bit for bit (F16 -> f16).
  std::vector<uint16_t> same(5);
  Coverage sameCoverage;
  ASSERT_FALSE(sameCoverage.reset(5));
  pack(makeStep(0, 1, 5, 5, 1, 0, 5, 1), "C", same.data(), DType::F16,
       sameCoverage);
  EXPECT_EQ(same,
            (std::vector<uint16_t>{0x3c04, 0x3c0c, 0x3c06, 0x3c03, 0x0001}));
}

TEST_F(Packing, StepsAreCheckedAgainstTheTensor) {
  // The last element read is 3 * 6 + 5 = 23; one more is out of bounds.
  EXPECT_FALSE(checkPackStep(makeStep(0, 4, 6, 6, 1, 0, 6, 1), tensor("A"),
                             DType::F32, "A"));
  Error e = checkPackStep(makeStep(1, 4, 6, 6, 1, 0, 6, 1), tensor("A"),
                          DType::F32, "A");
  EXPECT_EQ(e.code(), MOERT_ERROR_WEIGHTS);
  EXPECT_EQ(e.message(), "tensor 'A': the packing step reads element 24 but "
                         "the tensor has 24 elements");
  e = checkPackStep(makeStep(0, 2, 2, 1, 12, 0, 2, 1), tensor("B"), DType::F32,
                    "B");
  EXPECT_NE(e.message().find("reads element 13"), std::string::npos)
      << e.message();
  e = checkPackStep(makeStep(0, 1, 4, 4, 1, 0, 4, 1), tensor("U"), DType::F32,
                    "U");
  EXPECT_EQ(e.message(),
            "tensor 'U': dtype U8 cannot be packed into a f32 buffer (F32, "
            "F16 or BF16 for float buffers; the buffer's own type, or U8 for "
            "f8e8m0 and i8)");
  // Quantized checkpoints store e8m0 scales and e2m1 pairs as U8.
  EXPECT_FALSE(checkPackStep(makeStep(0, 1, 4, 4, 1, 0, 4, 1), tensor("U"),
                             DType::F8E8M0, "U"));
  EXPECT_FALSE(checkPackStep(makeStep(0, 1, 4, 4, 1, 0, 4, 1), tensor("U"),
                             DType::I8, "U"));
  EXPECT_TRUE(checkPackStep(makeStep(0, 1, 4, 4, 1, 0, 4, 1), tensor("U"),
                            DType::F8E4M3, "U"));
  e = checkPackStep(makeStep(0, 1, 2, 2, 1, 0, 2, 1), tensor("R5"), DType::F32,
                    "R5");
  EXPECT_EQ(e.message(), "tensor 'R5': rank 5; packing reads 1-D to 4-D "
                         "tensors (MXFP4 blocks are 4-D)");
}

TEST(Coverage, CountsEachElementOnce) {
  Coverage c;
  ASSERT_FALSE(c.reset(200));
  c.markRange(60, 10); // crosses a word boundary
  c.markRange(65, 10); // overlaps: only 5 new
  c.mark(199);
  c.mark(199);
  EXPECT_EQ(c.written(), 16);
  EXPECT_EQ(c.firstUnwritten(), 0);
  c.markRange(0, 60);
  EXPECT_EQ(c.firstUnwritten(), 75);
  c.markRange(0, 200);
  EXPECT_TRUE(c.complete());
  EXPECT_EQ(c.firstUnwritten(), -1);
  c.release();
  EXPECT_TRUE(c.complete()); // the count outlives the bitmap
  ASSERT_FALSE(c.reset(64));
  c.markRange(0, 64);
  EXPECT_TRUE(c.complete());
}

} // namespace

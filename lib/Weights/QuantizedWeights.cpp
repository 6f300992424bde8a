//===- QuantizedWeights.cpp - projections as quantized checkpoints store them
//
// fp8 as DeepSeek-V3 (block-scaled e4m3, `weight_scale_inv` = amax / 448 of
// the block), MXFP4 as gpt-oss (OCP MX: e2m1 values, one e8m0 scale per 32
// inputs, two values per byte, low nibble first).
//
//===----------------------------------------------------------------------===//

#include "QuantizedWeights.h"

#include "moe-support/DType.h"

#include <algorithm>
#include <cmath>

using namespace moe;
using namespace moe::weights;
using namespace moe::weights::detail;
using moe::ref::LayerConfig;
using moe::ref::WeightFormat;
using support::DType;

namespace {
constexpr int64_t kMxBlock = 32;

/// Rows x columns of one scale's block (0 in cfg: the whole projection).
std::pair<int64_t, int64_t> blockOf(const LayerConfig &cfg,
                                    const ProjectionShape &shape) {
  int64_t part = shape.rows / shape.stacked;
  return {cfg.blockRows ? cfg.blockRows : part,
          cfg.blockCols ? cfg.blockCols : shape.cols};
}

/// Scale rows per matrix: each stacked part has its own grid.
int64_t scaleRows(const LayerConfig &cfg, const ProjectionShape &shape) {
  int64_t part = shape.rows / shape.stacked;
  return shape.stacked *
         ((part + blockOf(cfg, shape).first - 1) / blockOf(cfg, shape).first);
}

int64_t scaleCols(const LayerConfig &cfg, const ProjectionShape &shape) {
  int64_t block = blockOf(cfg, shape).second;
  return (shape.cols + block - 1) / block;
}

/// `shape` with a leading batch dimension when the tensor has one.
std::vector<int64_t> batched(const TensorSpec &plain,
                             const ProjectionShape &shape,
                             std::vector<int64_t> dims) {
  if (plain.shape.size() == 3)
    dims.insert(dims.begin(), shape.batch);
  return dims;
}

/// Element (b, r, c) of the plain projection, whatever its layout.
float plainAt(const HostTensor &values, const ProjectionShape &shape, int64_t b,
              int64_t r, int64_t c) {
  int64_t matrix = b * shape.rows * shape.cols;
  return values.data[matrix + (shape.transposed ? c * shape.rows + r
                                                : r * shape.cols + c)];
}
} // namespace

std::vector<TensorSpec> moe::weights::detail::storedProjection(
    const LayerConfig &cfg, const TensorSpec &plain,
    const ProjectionShape &shape, bool kernelNames) {
  int64_t rows = shape.rows, cols = shape.cols;
  if (cfg.weightFormat == WeightFormat::Fp8) {
    std::string scale =
        kernelNames ? plain.name + "_scale" : plain.name + "_scale_inv";
    return {
        {plain.name, plain.shape, DType::F8E4M3},
        {scale,
         batched(plain, shape, {scaleRows(cfg, shape), scaleCols(cfg, shape)}),
         DType::F32}};
  }
  int64_t groups = cols / kMxBlock;
  if (kernelNames)
    return {{plain.name, batched(plain, shape, {rows, cols / 2}), DType::U8},
            {plain.name + "_scale", batched(plain, shape, {rows, groups}),
             DType::F8E8M0}};
  return {{plain.name + "_blocks",
           batched(plain, shape, {rows, groups, kMxBlock / 2}), DType::U8},
          {plain.name + "_scales", batched(plain, shape, {rows, groups}),
           DType::U8}};
}

std::vector<HostTensor> moe::weights::detail::quantizeProjection(
    const LayerConfig &cfg, const HostTensor &values,
    const ProjectionShape &shape, bool kernelNames) {
  TensorSpec plain{"", values.shape};
  std::vector<TensorSpec> specs =
      storedProjection(cfg, plain, shape, kernelNames);
  HostTensor q{specs[0].shape, {}}, s{specs[1].shape, {}};
  q.data.assign(q.numElements(), 0.0f);
  s.data.assign(s.numElements(), 0.0f);
  auto [blockRows, blockCols] = blockOf(cfg, shape);
  int64_t part = shape.rows / shape.stacked;
  int64_t sRows = scaleRows(cfg, shape), sCols = scaleCols(cfg, shape);
  for (int64_t b = 0; b < shape.batch; ++b)
    for (int64_t sr = 0; sr < sRows; ++sr)
      for (int64_t sc = 0; sc < sCols; ++sc) {
        // The block's rows: part p's local rows [first, last).
        int64_t perPart = sRows / shape.stacked;
        int64_t p = sr / perPart;
        int64_t first = p * part + (sr % perPart) * blockRows;
        int64_t last = std::min(first + blockRows, (p + 1) * part);
        int64_t c0 = sc * blockCols;
        int64_t c1 = std::min(c0 + blockCols, shape.cols);
        float amax = 0.0f;
        for (int64_t r = first; r < last; ++r)
          for (int64_t c = c0; c < c1; ++c)
            amax = std::max(amax, std::fabs(plainAt(values, shape, b, r, c)));
        float scale;
        if (cfg.weightFormat == WeightFormat::Fp8) {
          scale = amax > 0 ? amax / 448.0f : 1.0f;
        } else {
          // The smallest 2^e with amax / 2^e <= 6, e8m0's range.
          int e = amax > 0 ? int(std::ceil(std::log2(amax / 6.0f))) : 0;
          scale = std::ldexp(1.0f, std::clamp(e, -127, 127));
        }
        int64_t sIndex = (b * sRows + sr) * sCols + sc;
        bool scaleAsByte =
            cfg.weightFormat == WeightFormat::Mxfp4 && !kernelNames;
        s.data[sIndex] =
            scaleAsByte ? float(support::floatToFloat8E8M0(scale)) : scale;
        for (int64_t r = first; r < last; ++r)
          for (int64_t c = c0; c < c1; ++c) {
            float v = plainAt(values, shape, b, r, c) / scale;
            int64_t at = (b * shape.rows + r) * shape.cols + c;
            if (cfg.weightFormat == WeightFormat::Fp8) {
              q.data[at] = support::roundTo(DType::F8E4M3, v);
              continue;
            }
            // Two e2m1 per byte, the even column in the low nibble.
            uint8_t nibble = support::floatToFloat4E2M1(v);
            q.data[at / 2] += float(c % 2 ? nibble << 4 : nibble);
          }
      }
  return {std::move(q), std::move(s)};
}

void moe::weights::detail::varyBlockMagnitudes(const LayerConfig &cfg,
                                               HostTensor &values,
                                               const ProjectionShape &shape,
                                               uint64_t salt) {
  auto [blockRows, blockCols] = blockOf(cfg, shape);
  int64_t part = shape.rows / shape.stacked;
  for (int64_t b = 0; b < shape.batch; ++b)
    for (int64_t r = 0; r < shape.rows; ++r)
      for (int64_t c = 0; c < shape.cols; ++c) {
        // The block's number in the tensor, hashed to an exponent in -3..3.
        uint64_t block =
            (((salt * 1000003 + uint64_t(b)) * 1000003 + uint64_t(r / part)) *
                 1000003 +
             uint64_t((r % part) / blockRows)) *
                1000003 +
            uint64_t(c / blockCols);
        block = (block ^ (block >> 29)) * 0xbf58476d1ce4e5b9ull;
        int exponent = int((block >> 32) % 7) - 3;
        int64_t matrix = b * shape.rows * shape.cols;
        float &value =
            values.data[matrix + (shape.transposed ? c * shape.rows + r
                                                   : r * shape.cols + c)];
        value = std::ldexp(value, exponent);
      }
}

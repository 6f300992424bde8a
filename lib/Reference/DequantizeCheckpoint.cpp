//===- DequantizeCheckpoint.cpp - quantized checkpoints to plain weights --===//
//
// The reference's own reading of the quantized formats, from their
// definitions and written apart from the weight packer and the compiler's
// moe.dequantize lowering, so that a mistake in either shows up as a
// mismatch:
//  - fp8: w[r][c] = q[r][c] * weight_scale_inv[r / br][c / bc];
//  - MXFP4: w[r][c] = e2m1(nibble c of row r) * 2^(scales[r][c / 32] - 127),
//    two nibbles per byte, the lower first;
// each rounded to the model dtype (cfg.dequantizedBits), as DeepSeek-V3's
// weight_dequant and transformers' fp8 fallback give them to the GEMMs
// (exact for MXFP4 in bf16).
//
//===----------------------------------------------------------------------===//

#include "moe/Reference/Reference.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"

#include <algorithm>
#include <cmath>

using namespace moe;
using namespace moe::ref;

namespace {
double e2m1(unsigned nibble) {
  unsigned exponent = (nibble >> 1) & 3, mantissa = nibble & 1;
  double magnitude = exponent == 0
                         ? 0.5 * mantissa
                         : (2 + mantissa) * std::ldexp(1.0, exponent - 2);
  return (nibble & 8) ? -magnitude : magnitude;
}

/// `x` rounded to `bits` significant bits, ties to even, with the
/// subnormal spacing of a type whose smallest normal exponent is
/// `minExponent` (bf16: 8, -126; f16: 11, -14; f32: 24, -126).
double roundToBits(double x, int bits) {
  if (x == 0.0 || bits >= 24)
    return static_cast<float>(x);
  int minExponent = bits == 11 ? -14 : -126;
  int exponent = std::max(std::ilogb(x), minExponent);
  double spacing = std::ldexp(1.0, exponent - (bits - 1));
  return std::nearbyint(x / spacing) * spacing;
}

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// fp8 values [..., R, C] (floats) with scales [..., SR, SC]: the rows form
/// `parts` equal parts, each with its own grid of blocks.
llvm::Expected<HostTensor>
dequantizeFp8(const LayerConfig &cfg, const std::string &name,
              const HostTensor &q, const HostTensor &scale, int64_t parts) {
  size_t rank = q.shape.size();
  if (rank < 2 || scale.shape.size() != rank)
    return fail("'" + name + "_scale...' must have the values' rank");
  int64_t rows = q.shape[rank - 2], cols = q.shape[rank - 1];
  int64_t partRows = rows / parts;
  int64_t br = cfg.blockRows ? cfg.blockRows : partRows;
  int64_t bc = cfg.blockCols ? cfg.blockCols : cols;
  int64_t gridRows = (partRows + br - 1) / br;
  int64_t sr = scale.shape[rank - 2], sc = scale.shape[rank - 1];
  if (sr != parts * gridRows || sc != (cols + bc - 1) / bc)
    return fail("the scales of '" + name + "' do not match its blocks");
  HostTensor w{q.shape, std::vector<float>(q.data.size())};
  int64_t matrices = q.numElements() / (rows * cols);
  for (int64_t m = 0; m < matrices; ++m)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        int64_t srow = (r / partRows) * gridRows + (r % partRows) / br;
        double s = scale.data[(m * sr + srow) * sc + c / bc];
        int64_t at = (m * rows + r) * cols + c;
        w.data[at] = static_cast<float>(
            roundToBits(double(q.data[at]) * s, cfg.dequantizedBits));
      }
  return w;
}

/// MXFP4 bytes [..., R, C/2] with scales [..., R, C/32], given as bytes or
/// (the kernels' e8m0 tensors) as values; `rowDim` is R's dimension
/// (gpt-oss splits C/2 in [C/32, 16]).
HostTensor dequantizeMxfp4(const HostTensor &bytes, const HostTensor &scales,
                           bool scalesAsBytes, size_t rowDim, int bits) {
  std::vector<int64_t> shape(bytes.shape.begin(),
                             bytes.shape.begin() + rowDim + 1);
  int64_t e = 1;
  for (size_t d = 0; d < rowDim; ++d)
    e *= shape[d];
  int64_t rows = shape[rowDim];
  int64_t cols = 2 * bytes.numElements() / (e * rows);
  shape.push_back(cols);
  HostTensor w{shape, std::vector<float>(e * rows * cols)};
  for (int64_t m = 0; m < e * rows; ++m)
    for (int64_t c = 0; c < cols; ++c) {
      unsigned byte = unsigned(bytes.data[(m * cols + c) / 2]);
      unsigned nibble = c % 2 ? byte >> 4 : byte & 15;
      float stored = scales.data[m * (cols / 32) + c / 32];
      double s = scalesAsBytes ? std::ldexp(1.0, int(stored) - 127) : stored;
      w.data[m * cols + c] =
          static_cast<float>(roundToBits(e2m1(nibble) * s, bits));
    }
  return w;
}
} // namespace

llvm::Expected<TensorMap> moe::ref::dequantizeCheckpoint(const LayerConfig &cfg,
                                                         const TensorMap &hf) {
  TensorMap plain;
  bool kernelLayout = cfg.family == "moe-opt";
  for (const auto &[name, tensor] : hf) {
    llvm::StringRef n(name);
    if (n.ends_with("_scale_inv") || n.ends_with("_scale") ||
        n.ends_with("_scales"))
      continue;
    if (cfg.weightFormat == WeightFormat::Mxfp4 && !kernelLayout) {
      if (!n.ends_with("_blocks")) {
        plain[name] = tensor;
        continue;
      }
      // gpt-oss: [E, out, in/32, 16] -> the plain [E, in, out].
      std::string base = n.drop_back(strlen("_blocks")).str();
      auto scales = hf.find(base + "_scales");
      if (scales == hf.end())
        return fail("missing tensor '" + base + "_scales'");
      HostTensor w =
          dequantizeMxfp4(tensor, scales->second, true, 1, cfg.dequantizedBits);
      int64_t e = w.shape[0], rows = w.shape[1], cols = w.shape[2];
      HostTensor t{{e, cols, rows}, std::vector<float>(w.data.size())};
      for (int64_t x = 0; x < e; ++x)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c)
            t.data[(x * cols + c) * rows + r] =
                w.data[(x * rows + r) * cols + c];
      plain[base] = std::move(t);
      continue;
    }
    // The kernels' names (our own schema), or fp8's Hugging Face ones.
    auto scale = hf.find(name + (kernelLayout ? "_scale" : "_scale_inv"));
    if (scale == hf.end()) {
      plain[name] = tensor;
      continue;
    }
    if (cfg.weightFormat == WeightFormat::Mxfp4) {
      plain[name] =
          dequantizeMxfp4(tensor, scale->second, false, tensor.shape.size() - 2,
                          cfg.dequantizedBits);
      continue;
    }
    // The kernels' fused gate_up stacks gate and up, each with its grid.
    bool stacked = kernelLayout && cfg.activation != Activation::Relu &&
                   (n.ends_with("gate_up"));
    auto w = dequantizeFp8(cfg, name, tensor, scale->second, stacked ? 2 : 1);
    if (!w)
      return w.takeError();
    plain[name] = std::move(*w);
  }
  return plain;
}

//===- QuantizedWeights.h - projections as quantized checkpoints store them
//===//
//
// Internal to MoeWeights. A projection weight of a quantized model is two
// tensors: its values (fp8 e4m3, or e2m1 pairs in bytes) and its scales
// (f32 per block, or e8m0 per 32 inputs). These name them, give their
// shapes and storage types, and quantize plain weights the way the
// published checkpoints were made, for random test weights.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_LIB_WEIGHTS_QUANTIZEDWEIGHTS_H
#define MOE_LIB_WEIGHTS_QUANTIZEDWEIGHTS_H

#include "moe/Weights/HfWeights.h"

namespace moe::weights::detail {

/// Where a projection's values sit in its tensor: `batch` matrices of
/// `rows` x `cols` (output x input), the rows in `stacked` equal parts
/// scaled separately (gate and up of a fused gate_up), and whether the
/// tensor holds each matrix transposed ([batch, cols, rows]: gpt-oss).
struct ProjectionShape {
  int64_t batch = 1, rows = 0, cols = 0, stacked = 1;
  bool transposed = false;
};

/// The tensors `plain` (a projection of `shape`) is stored as in a `cfg`
/// checkpoint, values first then scales. Names: fp8 `X` and
/// `X_scale_inv` (Hugging Face `X.weight`, `X.weight_scale_inv`); MXFP4
/// `X_blocks` and `X_scales` (gpt-oss's, [E, out, in/32, 16] and
/// [E, out, in/32]); the kernels' `X` and `X_scale`. `kernelNames` selects
/// the last.
std::vector<TensorSpec> storedProjection(const ref::LayerConfig &cfg,
                                         const TensorSpec &plain,
                                         const ProjectionShape &shape,
                                         bool kernelNames);

/// Quantizes the plain projection `values` (of `shape`) into the tensors
/// storedProjection names: fp8 with scale = amax / 448 per block, MXFP4
/// with the smallest power-of-two scale that keeps each 32-group within 6.
/// Values are given as HostTensor floats: fp8 values, byte values (0..255)
/// for `_blocks`, `_scales` and the kernels' packed values, and the scale
/// itself (2^(bits-127)) for the kernels' e8m0 `X_scale`.
std::vector<HostTensor> quantizeProjection(const ref::LayerConfig &cfg,
                                           const HostTensor &values,
                                           const ProjectionShape &shape,
                                           bool kernelNames);

/// Multiplies each block of the plain projection `values` by its own power
/// of two in [1/8, 8], so that the scales of neighbouring blocks differ and
/// a scale applied to the wrong block shows in the results (uniform random
/// weights would give every block about the same scale).
/// `salt` (the tensor name's hash) makes each tensor's pattern its own.
void varyBlockMagnitudes(const ref::LayerConfig &cfg, HostTensor &values,
                         const ProjectionShape &shape, uint64_t salt);

} // namespace moe::weights::detail

#endif // MOE_LIB_WEIGHTS_QUANTIZEDWEIGHTS_H

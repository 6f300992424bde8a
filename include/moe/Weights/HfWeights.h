//===- HfWeights.h - Hugging Face tensors and kernel packing ----*- C++ -*-===//
//
// The tensors of one MoE layer as the family's published Hugging Face
// checkpoints name and lay them out, deterministic random values for them,
// and their conversion to the layout the compiled layer function takes.
//
// HostTensor and TensorMap are header-only so that the fp64 reference
// (MoeReference) can use them without linking this library: the reference
// indexes the Hugging Face layouts itself and shares no code with the
// packer, so a packing bug shows up as a mismatch instead of cancelling out.
//
// Plain C++ and LLVM Support; no MLIR dependency.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_WEIGHTS_HFWEIGHTS_H
#define MOE_WEIGHTS_HFWEIGHTS_H

#include "moe-support/StridedCopy.h"
#include "moe/Reference/LayerConfig.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moe {

/// A host tensor of float values (bf16/f16 data is widened exactly),
/// row-major.
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  /// The product of `shape` (1 for a scalar).
  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t dim : shape)
      n *= dim;
    return n;
  }
};

/// Tensors by their full checkpoint name.
using TensorMap = std::map<std::string, HostTensor>;

} // namespace moe

namespace moe::weights {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  /// The type a quantized checkpoint stores it in (fp8 values, scales,
  /// packed e2m1 bytes); unset: the model dtype (or F32 for DeepSeek's
  /// e_score_correction_bias, see hfStorageType).
  std::optional<support::DType> storage = std::nullopt;
};

/// Whether `cfg` describes a layer this library can name and pack: a known
/// family, positive sizes, routing parameters the moe dialect accepts, and
/// no optional tensor (router bias, correction bias, expert biases, shared
/// expert, shared gate, relu's ungated layout) that the family's checkpoints
/// have no name for. checkHfWeights and packForKernels call it first.
llvm::Error checkLayerConfig(const ref::LayerConfig &cfg);

/// The Hugging Face tensors of one MoE layer (cfg.layer), with the names and
/// shapes the family's published checkpoints use (unquantized: gpt-oss's
/// mxfp4 `_blocks`/`_scales` and DeepSeek-V3's fp8 `weight_scale_inv` are
/// not covered). Empty exactly when checkLayerConfig(cfg) fails, so callers
/// must not read an empty list as "nothing to load".
std::vector<TensorSpec> hfTensorSpecs(const ref::LayerConfig &cfg);

/// The compiled layer function's weight arguments (after the hidden
/// states), in order, named as the moe-opt family names them
/// (`router_weight`, `router_bias`, `correction_bias`, `gate_up`, `down`,
/// `gate_up_bias`, `down_bias`, `shared_gate_up`, `shared_down`,
/// `shared_gate`):
///   router_weight [E, H]; router_bias [E] if cfg.routerBias;
///   correction_bias [E] if cfg.correctionBias;
///   gate_up [E, 2I, H] (rows 0..I-1 gate, I..2I-1 up; [E, I, H], up only,
///   for Activation::Relu); down [E, H, I];
///   gate_up_bias [E, 2I] ([E, I] for relu) and down_bias [E, H] if
///   cfg.expertBias;
///   shared_gate_up [2Is, H] ([Is, H] for relu), shared_down [H, Is] if
///   cfg.sharedIntermediate > 0; shared_gate [1, H] if cfg.sharedSigmoidGate.
/// Empty exactly when checkLayerConfig(cfg) fails.
std::vector<TensorSpec> kernelTensorSpecs(const ref::LayerConfig &cfg);

/// Deterministic random values for every spec of hfTensorSpecs(cfg), from a
/// self-contained splitmix64 generator seeded by `seed` and the tensor's
/// name, so results are identical on every machine and do not depend on
/// which other tensors exist: weights uniform in [-1/sqrt(fan_in),
/// 1/sqrt(fan_in)] (fan_in = the size the projection reads: H for router,
/// gate and up, I or Is for down), biases uniform in [-0.1, 0.1],
/// e_score_correction_bias uniform in [-0.05, 0.05]. Empty when
/// checkLayerConfig(cfg) fails.
TensorMap randomHfWeights(const ref::LayerConfig &cfg, uint64_t seed);

/// Deterministic random hidden states [tokens, H], uniform in [-1, 1].
HostTensor randomInput(const ref::LayerConfig &cfg, int64_t tokens,
                       uint64_t seed);

/// Every spec'd tensor present with its exact shape and as many values as
/// the shape holds; the error names each offending tensor with the expected
/// and actual shapes (or "missing"). Tensors `hf` holds beyond the specs
/// (the rest of a checkpoint) are ignored.
llvm::Error checkHfWeights(const ref::LayerConfig &cfg, const TensorMap &hf);

/// One copy (support's StridedCopy, which moert runs from the manifest too)
/// of a 2-D strided view of a Hugging Face tensor into a kernel weight
/// buffer, in elements (docs/kernel-manifest.md, "Weight packing").
struct PackStep : support::StridedCopy {
  std::string buffer; // a kernelTensorSpecs name
  std::string tensor; // the checkpoint name
};

/// The copy steps that build every kernel weight buffer of `cfg` from the
/// family's checkpoint tensors; together they write each element of each
/// buffer exactly once. Tensor names use `layerToken` in place of the layer
/// index when it is not empty (the manifest's "{L}"). Empty when
/// checkLayerConfig(cfg) fails.
std::vector<PackStep> packingSteps(const ref::LayerConfig &cfg,
                                   llvm::StringRef layerToken = "");

/// The kernels' layout (see kernelTensorSpecs), converted from the family's
/// checkpoint tensors: gpt-oss's interleaved gate/up columns are split,
/// Llama 4's [E, H, 2I] and [E, I, H] are transposed, DBRX's fused w1/v1/w2
/// are cut per expert, per-expert tensors are stacked: packingSteps(cfg)
/// executed on the host. Calls checkHfWeights first.
llvm::Expected<std::vector<HostTensor>>
packForKernels(const ref::LayerConfig &cfg, const TensorMap &hf);

} // namespace moe::weights

#endif // MOE_WEIGHTS_HFWEIGHTS_H

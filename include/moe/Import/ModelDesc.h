//===- ModelDesc.h - MoE layers, independent of a schema --------*- C++ -*-===//
//-*-===//
//
// What the importers read out of a JSON description and what the IR builder
// and the exporter work from. Each reader also records the JSON path every
// field came from, so checks shared by all schemas can point at the field
// the user wrote.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_IMPORT_MODELDESC_H
#define MOE_IMPORT_MODELDESC_H

#include "moe/Dialect/MoeDialect.h"

#include "moe-support/DType.h"

#include "llvm/ADT/StringMap.h"

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace mlir::moe {

class JsonDocument;

/// A layer's compute type: F32, F16 or BF16 (support's isComputeFloat), the
/// one element-type enum of the compiler, the runtime and the benchmarks.
using DType = ::moe::support::DType;

llvm::StringRef stringifyDType(DType type);
std::optional<DType> parseDType(llvm::StringRef name);
Type getDTypeType(MLIRContext *context, DType type);
/// The DType of an MLIR element type (floats, fp8, signless and unsigned
/// integers, i1), or nothing for one without a DType.
std::optional<DType> dtypeOfType(Type type);

struct RoutingDesc {
  Scoring scoring = Scoring::softmax;
  int64_t topK = 1;
  Normalization normalization = Normalization::none;
  double normP = 1.0;
  double normEpsilon = 0.0;
  int64_t nGroup = 1;
  int64_t topkGroup = 1;
  GroupScore groupScore = GroupScore::max;
  double scalingFactor = 1.0;
  WeightPlacement placement = WeightPlacement::output;
  bool routerBias = false;
  /// A learned [E] bias added to the scores for selection only (DeepSeek-V3).
  bool correctionBias = false;
  /// The norm's lower bound (ERNIE 4.5's clamp(min = moe_norm_min)).
  double normMin = 0.0;
  /// Sparsemixer's relative gap (PhiMoE's router_jitter_noise).
  double jitterEps = 0.0;

  auto tie() const {
    return std::tie(scoring, topK, normalization, normP, normEpsilon, nGroup,
                    topkGroup, groupScore, scalingFactor, placement, routerBias,
                    correctionBias, normMin, jitterEps);
  }
  bool operator==(const RoutingDesc &o) const { return tie() == o.tie(); }
};

struct FfnDesc {
  Activation activation = Activation::silu_glu;
  double alpha = 1.702;
  double limit = 7.0;
  /// Biases on the gate/up and down projections (gpt-oss).
  bool bias = false;

  auto tie() const { return std::tie(activation, alpha, limit, bias); }
  bool operator==(const FfnDesc &o) const { return tie() == o.tie(); }
};

struct SharedExpertDesc {
  int64_t intermediateSize = 0;
  /// Output scaled by sigmoid(x . gate) with a [1, H] gate (Qwen2-MoE).
  bool sigmoidGate = false;

  bool operator==(const SharedExpertDesc &o) const {
    return intermediateSize == o.intermediateSize &&
           sigmoidGate == o.sigmoidGate;
  }
};

/// One MoE layer shape and the decoder layers that use it.
struct MoeLayerDesc {
  std::vector<int64_t> layers;
  int64_t numExperts = 0;
  int64_t intermediateSize = 0;
  RoutingDesc routing;
  FfnDesc ffn;
  std::optional<SharedExpertDesc> shared;

  /// JSON path of each field, keyed by the field names of our own schema
  /// ("num_experts", "top_k", "n_group", ...). Used in diagnostics.
  llvm::StringMap<std::string> paths;

  /// True when both describe the same computation (ignores layers, paths).
  bool sameShape(const MoeLayerDesc &other) const {
    return numExperts == other.numExperts &&
           intermediateSize == other.intermediateSize &&
           routing == other.routing && ffn == other.ffn &&
           shared == other.shared;
  }
};

/// How a checkpoint stores the experts' projection weights (routed and
/// shared; the router and the biases stay in the model dtype), from
/// Hugging Face's `quantization_config`.
struct QuantDesc {
  enum class Format {
    /// The model dtype.
    none,
    /// fp8 e4m3 with an f32 scale per block (`weight_scale_inv`).
    fp8,
    /// e2m1 pairs in bytes with an e8m0 scale per 32 inputs (gpt-oss).
    mxfp4,
  };
  Format format = Format::none;
  /// Rows and columns of one scale's block; 0 for the whole projection
  /// (fp8 per-tensor). MXFP4: [1, 32].
  int64_t blockRows = 0, blockCols = 0;
  /// fp8 `activation_scheme: dynamic`: the served model quantizes each
  /// expert GEMM's input per token in groups of 128.
  bool dynamicActivations = false;
  /// How the compiled layer runs an fp8 model: 0 weight-only (w8a16, the
  /// default: the dequantized weights times the model-dtype activations),
  /// or the group size of that per-token activation quantization (w8a8,
  /// 128 as served; moe-run --activations=fp8). FfnAttr's
  /// fp8_activation_group.
  int64_t fp8ActivationGroup = 0;
  /// `scale_fmt: ue8m0` (DeepSeek-V3.1, V3.2): the served model rounds each
  /// activation group's scale up to a power of two. Weight-only runs are
  /// unaffected; w8a8 does the same (FfnAttr's fp8_pow2_scales).
  bool pow2ActivationScales = false;

  bool isQuantized() const { return format != Format::none; }
  bool operator==(const QuantDesc &o) const {
    return format == o.format && blockRows == o.blockRows &&
           blockCols == o.blockCols &&
           dynamicActivations == o.dynamicActivations &&
           fp8ActivationGroup == o.fp8ActivationGroup &&
           pow2ActivationScales == o.pow2ActivationScales;
  }
};

struct ModelDesc {
  std::string name;
  /// The Hugging Face `model_type` it was imported from, or "moe-opt".
  std::string source;
  int64_t hiddenSize = 0;
  int64_t numLayers = 0;
  DType dtype = DType::BF16;
  QuantDesc quant;
  std::vector<MoeLayerDesc> moeLayers;
  /// JSON paths of the model-level fields ("hidden_size", "num_layers").
  llvm::StringMap<std::string> paths;
};

/// Checks the values and their consistency (top_k <= experts, groups divide
/// the experts, layer indices in range, sizes whose products overflow 64
/// bits, ...), reporting each problem at the JSON field it came from.
LogicalResult validateModelDesc(const ModelDesc &model,
                                const JsonDocument &doc);

/// Merges MoE layer groups that describe the same shape (so the module has
/// one function per distinct shape) and sorts each group's layers.
void mergeSameShapeLayers(ModelDesc &model);

} // namespace mlir::moe

#endif // MOE_IMPORT_MODELDESC_H
